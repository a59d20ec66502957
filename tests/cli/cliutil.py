"""Shared by the CLI tests."""
import json


def json_error_text(output: str) -> str:
    """Under -o json an error is one JSON line {"error": {name, codespace, code, log}} (the last line of the
    output: progress lines may come before it on stderr); returned as the text form's
    "Name (codespace/code): log" so the tests can assert on either."""
    error = json.loads(output.strip().splitlines()[-1])["error"]
    assert set(error) == {"name", "codespace", "code", "log"}, error
    return f"{error['name']} ({error['codespace']}/{error['code']}): {error['log']}"
