"""json_response and send_json encode as json.dumps does, with one encoder per thread."""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import pytest

from asgiweb import web
from asgiweb.helpers import dumps_json

CASES: list[Any] = [
    {"message": "Hello, World!"},
    [1, 2.5, None, True, False, 'é\u2028\x00"\\', {"a": [{}]}],
    {1: "x", 2.5: "y", None: 1, False: 2},
    [math.inf, -math.inf, 10**30, -0.0, 1e-300],
    "",
    [],
    {},
    (1, 2),
]


@pytest.mark.parametrize("data", CASES, ids=range(len(CASES)))
def test_the_same_text_as_json_dumps(data: Any) -> None:
    assert dumps_json(data) == json.dumps(data)
    assert web.json_response(data).text == json.dumps(data)


def test_nan_is_written_as_json_dumps_writes_it() -> None:
    assert dumps_json([math.nan]) == json.dumps([math.nan]) == "[NaN]"


def test_errors_are_json_dumps_errors_and_leave_nothing_behind() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference detected"):
        dumps_json(cycle)
    shared = {"inner": [1]}
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps_json({"a": shared, "b": object()})
    # The containers of the failed encodings were marked as being encoded: a leftover
    # mark would make the next encoding of them a false "circular reference".
    assert dumps_json({"again": shared, "twice": shared}) == json.dumps(
        {"again": shared, "twice": shared}
    )


def test_threads_encoding_the_same_object_do_not_see_each_others_marks() -> None:
    shared = {"k": list(range(200)), "n": {"deep": [{"x": 1}] * 50}}
    expected = json.dumps(shared)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(2000):
                assert dumps_json(shared) == expected
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_a_dumps_given_is_used() -> None:
    response = web.json_response({"a": 1}, dumps=lambda data: json.dumps(data, indent=1))
    assert response.text == '{\n "a": 1\n}'
