"""Debian's jupyter_kernel_test conformance suite against the d2l-ts kernel.

Every test of KernelTests gets a sample, so none is skipped.
"""
import unittest

import jupyter_kernel_test


class D2lTsKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "d2l-ts"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something went wrong")'

    completion_samples = [
        # A d2l name: the library's own exports.
        {"text": "d2l.backendI", "matches": {"backendInfo"}},
        {"text": "const someLongName = 1; someLongN", "matches": {"someLongName"}},
    ]

    complete_code_samples = ["1 + 1", "const a = tf.ones([2])", "function f(x: number) {\n  return x;\n}"]
    incomplete_code_samples = ["function f(x: number) {", "const a = [1, 2,", "for (let i = 0; i < 3; i++) {"]
    invalid_code_samples = ["const = 5;", "1 +* 2", "let let x"]

    code_page_something = 'display.page("d2l-ts help text")'

    code_generate_error = 'throw new Error("expected failure")'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "tf.tensor([1, 2]).shape", "result": "[ 2 ]"},
        {"code": '"d2l"', "result": "'d2l'"},
    ]

    code_display_data = [
        {"code": 'display.html("<b>bold</b>")', "mime": "text/html"},
        {"code": 'display.markdown("# Title")', "mime": "text/markdown"},
        {"code": 'display.svg(\'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>\')', "mime": "image/svg+xml"},
        {"code": "display.json({ a: 1 })", "mime": "application/json"},
        {"code": "display(tf.zeros([2]))", "mime": "text/plain"},
    ]

    code_history_pattern = "6 * *"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "d2l.backendInfo"

    code_clear_output = "clearOutput()"


if __name__ == "__main__":
    unittest.main(verbosity=2)
