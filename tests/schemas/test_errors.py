"""A worker's UserError, come back as text, is known to the CLI without a list of modules to import."""
from __future__ import annotations

import subprocess
import sys

from pilewright.schemas.errors import user_error_message


def test_a_user_error_named_in_full_is_found_without_importing_its_module_first():
    # a fresh interpreter: nothing has imported the tokenizer trainer, as in the CLI before a worker fails
    code = (
        "import sys\n"
        "from pilewright.schemas.errors import user_error_message\n"
        "assert 'pilewright.tokenizer.spm_train' not in sys.modules\n"
        "e = RuntimeError(\"Traceback (most recent call last):\\n  File 'x'\\n"
        "pilewright.tokenizer.spm_train.TokenizerTrainingError: lower vocab_size [while running 'Train']\")\n"
        "print(user_error_message(e))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "lower vocab_size"


def test_other_errors_are_not_user_errors():
    assert user_error_message(RuntimeError("pilewright.schemas.errors.Nothing: x")) is None
    assert user_error_message(RuntimeError("builtins.ValueError: x")) is None
    assert user_error_message(RuntimeError("pilewright.no_such_module.Thing: x")) is None
