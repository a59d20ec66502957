import importlib.util
from pathlib import Path

from chain.tx.envelope import decode_tx

ROOT = Path(__file__).resolve().parents[2]


def _gen():
    spec = importlib.util.spec_from_file_location("gen_vector", ROOT / "scripts/gen_tx_vector.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_vector_doc_current_and_decodes():
    text = _gen().render()
    assert (ROOT / "docs/tx-vector.md").read_text() == text, "run scripts/gen_tx_vector.py"
    tx_hex = text.split("`Tx` bytes")[1].split("```")[1].strip()
    tx = decode_tx(bytes.fromhex(tx_hex))  # signature verifies, encoding canonical
    assert tx.body.sequence == 3 and tx.body.memo == "hello"
