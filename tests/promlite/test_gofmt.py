import pytest

from promlite.gofmt import format_g

# expected strings are what Go's fmt.Sprintf("%g", v) prints
CASES = [
    (0.0, "0"), (-0.0, "-0"), (1.0, "1"), (-2.5, "-2.5"), (177117.4, "177117.4"), (100067.0, "100067"),
    (999999.0, "999999"), (1e6, "1e+06"), (1234567.0, "1.234567e+06"), (1e21, "1e+21"), (0.0001, "0.0001"),
    (0.00001, "1e-05"), (1.5e-300, "1.5e-300"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    (0.1, "0.1"), (123.456, "123.456"), (float("nan"), "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf"),
]


@pytest.mark.parametrize("v, want", CASES, ids=[w for _, w in CASES])
def test_format_g(v, want):
    assert format_g(v) == want
