"""``voice-agent gateway --check`` for the language model, as a real process against the stand-in.

The stand-in (``tests/standins/openai_standin.py``) serves ``GET /v1/models``
with the one model it knows, and refuses a wrong key with 401, as OpenAI's
API does. The key is never printed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from standins.openai_standin import KEY, MODEL, OpenAIStandIn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:
        yield server


def check(tmp_path: Path, base_url: str, key: str, model: str = MODEL
          ) -> subprocess.CompletedProcess[str]:
    key_file = tmp_path / "llm.key"
    key_file.write_text(key + "\n")
    cfg = tmp_path / "gateway.yaml"
    cfg.write_text(f"dialog:\n  engine: [skills, llm]\n  llm:\n    base_url: {base_url}\n"
                   f"    api_key_file: {key_file}\n    model: {model}\n    timeout_s: 5\n")
    return subprocess.run([sys.executable, "-m", "agent.cli", "gateway", "--config", str(cfg),
                           "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)


def llm_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.split()[1:2] == ["dialog.llm"]]


def test_check_lists_the_model_with_the_key(standin: OpenAIStandIn, tmp_path: Path) -> None:
    done = check(tmp_path, standin.base_url, KEY)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = llm_lines(done)
    assert lines[-2:] == ["OK   dialog.llm models: 1 model(s) listed (with the key)",
                          f"OK   dialog.llm model: {MODEL} (dialog.llm.model)"]
    assert any(line.startswith("OK   dialog.llm tcp 127.0.0.1:") for line in lines)
    assert KEY not in done.stdout + done.stderr


def test_a_refused_key_and_an_unknown_model_fail_with_their_fix(
    standin: OpenAIStandIn, tmp_path: Path
) -> None:
    refused = check(tmp_path, standin.base_url, "sk-wrong-0123456789abcdef")
    assert refused.returncode == 1
    (models,) = [line for line in llm_lines(refused) if " models:" in line]
    assert models.startswith("FAIL dialog.llm models: HTTP 401 (the API key was refused)")
    assert models.endswith("(fix: check dialog.llm.api_key_file or OPENAI_API_KEY)")
    assert "SKIP dialog.llm model: not run: an earlier step failed" in refused.stdout
    assert "sk-wrong-0123456789abcdef" not in refused.stdout + refused.stderr

    unknown = check(tmp_path, standin.base_url, KEY, model="llama3.2")
    assert unknown.returncode == 1
    assert (f"FAIL dialog.llm model: unknown model 'llama3.2' (the server has: {MODEL}) "
            "(fix: set dialog.llm.model to one of them (Ollama: ollama pull MODEL))"
            ) in unknown.stdout


def test_a_server_that_is_down_fails_at_tcp(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = check(tmp_path, f"http://127.0.0.1:{port}/v1", KEY)
    assert done.returncode == 1
    assert f"FAIL dialog.llm tcp 127.0.0.1:{port}: cannot connect to 127.0.0.1:{port}" \
        in done.stdout
    assert "SKIP dialog.llm models: not run: an earlier step failed" in done.stdout
