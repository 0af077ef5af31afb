"""param_set> and param_get>: values kept between attempts and workflows (Digdag's param
server), in the run's own database: a local run's state.db, the server's SQLite or PostgreSQL.

    +remember:                     +recall:
      param_set>:                    param_get>:
      last_id: ${last_id}            last_id: previous_id    # -> ${previous_id}

Values are strings and expire after 90 days, as in Digdag. A key param_get> does not find
(or finds expired) sets its store parameter to "".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from dockerflow.dig.operator_options import OPERATOR_OPTIONS
from dockerflow.errors import TaskFailure
from dockerflow.graph.task import TaskResult
from dockerflow.operators.base import OperatorContext, ParamStore
from dockerflow.operators.simple import text_of

TTL_SECONDS = 90 * 24 * 3600


def _pairs(ctx: OperatorContext) -> dict[str, Any]:
    pairs = {k: v for k, v in ctx.config.items() if not k.startswith("_") and not k.endswith(">")}
    if not pairs:
        raise TaskFailure(f"{ctx.op}> at {ctx.full_name}: no key is set (write the keys under it,"
                          f" e.g. `{ctx.op}>:` then `my_key: ...`)")
    for key, value in pairs.items():
        if isinstance(value, (Mapping, list)):
            raise TaskFailure(f"{ctx.op}> at {ctx.full_name}: the value of {key!r} must be a"
                              f" string or a number, got a {'list' if isinstance(value, list) else 'mapping'}")
    return pairs


def _store(ctx: OperatorContext) -> ParamStore:
    if ctx.param_store is None:
        raise TaskFailure(f"{ctx.op}> needs the run's database, which this worker was not given")
    return ctx.param_store


class ParamSetOperator:
    name: ClassVar[str] = "param_set"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["param_set"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        values = {key: text_of(value) for key, value in _pairs(ctx).items()}
        _store(ctx).param_set(values)
        return TaskResult()


class ParamGetOperator:
    name: ClassVar[str] = "param_get"
    retryable: ClassVar[bool] = True
    inline: ClassVar[bool] = True
    options: ClassVar[frozenset[str]] = OPERATOR_OPTIONS["param_get"]

    def run(self, ctx: OperatorContext) -> TaskResult:
        store = _store(ctx)
        out: dict[str, Any] = {}
        for key, dest in _pairs(ctx).items():
            value = store.param_get(key, TTL_SECONDS)
            out[text_of(dest)] = "" if value is None else value
        return TaskResult(store=out)
