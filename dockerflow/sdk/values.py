"""Value types shared by the SDK models: expressions, params, `_retry`, `_parallel`, `docker:`.

Every model of the SDK derives from `Model`: frozen, strict (no silent coercion: `"yes"` is not
`True`, `"3"` is not `3`) and closed (an unknown field name is an error naming it).  Strictness
is what lets the reader keep a file exactly as written: whatever a typed model cannot hold as
is stays in a generic form instead of being converted.

Fields that the engine evaluates accept a `${...}` string (`Expr`) besides their plain type.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasGenerator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

__all__ = [
    "BoolStr",
    "Cache",
    "Docker",
    "Duration",
    "Expr",
    "IntStr",
    "Model",
    "NumStr",
    "Params",
    "ParallelLimit",
    "Retry",
    "StrTuple",
    "is_expr",
    "json_value",
    "plain_data",
]


DIG_KEYS: dict[str, str] = {
    "export": "_export", "env": "_env", "secrets": "_secrets", "background": "_background",
    "after": "_after", "retry": "_retry", "disable": "_disable", "check": "_check",
    "error": "_error", "do": "_do", "else_do": "_else_do", "parallel": "_parallel",
    "from_": "from", "cache": "_cache",
}
"""Fields whose `.dig` key differs from their Python name."""


def dig_key(field: str) -> str:
    """The `.dig` key of a field (`export` -> `_export`, `from_` -> `from`)."""
    return DIG_KEYS.get(field, field)


def _validation_alias(field: str) -> str | AliasChoices:
    key = DIG_KEYS.get(field)
    return AliasChoices(field, key) if key else field


class Model(BaseModel):
    """Base of every SDK model: immutable, strictly typed, no unknown fields.

    Fields whose `.dig` key differs from the Python name (`export` for `_export`, `from_`
    for `from`) accept both spellings; `dig_key` gives the key written to files.
    """

    model_config = ConfigDict(
        frozen=True, strict=True, extra="forbid",
        alias_generator=AliasGenerator(validation_alias=_validation_alias),
    )


def is_expr(value: Any) -> bool:
    """Whether `value` is a string holding a `${...}` expression."""
    return isinstance(value, str) and "${" in value


def _expr(value: str) -> str:
    if "${" not in value:
        raise ValueError("expected a ${...} expression")
    return value


Expr = Annotated[str, AfterValidator(_expr)]
"""A string holding a `${...}` expression, evaluated by the engine when the task runs."""

BoolStr = Literal["true", "false"]
"""`"true"`/`"false"` written as strings, which the engine accepts where a boolean is expected."""

IntStr = Annotated[str, Field(pattern=r"^\s*[0-9]+\s*$")]
"""A whole number written as a string (`"3"`), which the engine reads as a number."""

NumStr = Annotated[str, Field(pattern=r"^\s*[0-9]+(\.[0-9]*)?\s*$")]
"""A non-negative number written as a string (`"1.5"`)."""

_DURATION = re.compile(r"^\s*(?:([0-9]+)\s*d)?\s*(?:([0-9]+)\s*h)?\s*(?:([0-9]+)\s*m)?\s*"
                       r"(?:([0-9]+)\s*s)?\s*$", re.IGNORECASE)


def _duration(value: str) -> str:
    match = _DURATION.match(value)
    if not match or not any(match.groups()):
        raise ValueError(f"invalid duration {value!r}: use e.g. '30s', '5m', '1h 30m', '1d'")
    return value


Duration = Annotated[str, AfterValidator(_duration)]
"""A duration such as `30s`, `5m`, `1h 30m` or `1d` (a unit is required)."""


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


StrTuple = Annotated[Sequence[str], BeforeValidator(_as_tuple)]
"""A list of strings (a list or a tuple is accepted; stored as a tuple)."""


@functools.singledispatch
def plain_data(value: Any) -> Any:
    """A field value as plain data: models become mappings (by `.dig` key, unset fields left
    out), tuples become lists.

    Models whose `.dig` form is not their fields (tasks, workflows, schedules, `sla`)
    register theirs: sdk/writer.py does, and the package imports it before any model is made.
    """
    return value


@plain_data.register(BaseModel)
def _model_data(value: BaseModel) -> Any:
    return {dig_key(name): plain_data(item) for name in type(value).model_fields
            if (item := getattr(value, name)) is not None}


@plain_data.register(dict)
def _dict_data(value: dict[Any, Any]) -> Any:
    return {key: plain_data(item) for key, item in value.items()}


@plain_data.register(list)
@plain_data.register(tuple)
def _list_data(value: list[Any] | tuple[Any, ...]) -> Any:
    return [plain_data(item) for item in value]


def json_value(value: Any, where: str = "value") -> Any:
    """Check that `value` can be written to a `.dig` file and return a private plain copy.

    Allowed: None, bool, int, float, str, lists/tuples (copied as lists) and mappings with
    string keys (copied as dicts, order kept).  SDK models (e.g. `Docker`) are turned into
    their mapping form.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, BaseModel):
        return plain_data(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: keys must be strings, got {key!r}")
            out[key] = json_value(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [json_value(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ValueError(f"{where}: {type(value).__name__} values cannot be written to a .dig file;"
                     " use strings, numbers, booleans, None, lists and mappings")


def _params(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("expected a mapping of names to values")
    return json_value(value, "")  # type: ignore[no-any-return]


Params = Annotated[dict[str, Any], BeforeValidator(_params)]
"""A mapping of parameter names to YAML values (copied on validation, so never shared)."""

JsonValue = Annotated[Any, AfterValidator(json_value)]
"""Any value a `.dig` file can hold (copied on validation)."""


def _finite(value: float | int) -> float | int:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Seconds = Annotated[int | float, AfterValidator(_finite), Field(ge=0)]


class Retry(Model):
    """`_retry: {limit, interval, interval_type, max_interval}`.

    The wait before retry n (0-based) is `interval`, or `interval * 2**n` capped by
    `max_interval` when `interval_type` is `exponential`.  A plain `_retry: N` is written as
    an int instead of this model.
    """

    limit: Annotated[int, Field(ge=0)] | IntStr | Expr
    interval: Seconds | NumStr | Expr | None = None
    interval_type: Literal["constant", "exponential"] | Expr | None = None
    max_interval: Seconds | NumStr | Expr | None = None


RetryValue = Annotated[int, Field(ge=0)] | IntStr | Expr | Retry
"""`_retry`: a number of retries, or a `Retry` with intervals."""


class ParallelLimit(Model):
    """`_parallel: {limit: N}`: children run in consecutive chunks of N."""

    limit: Annotated[int, Field(ge=1)]


ParallelValue = bool | BoolStr | ParallelLimit
"""`_parallel` of a group: never `${...}` (group keys are not evaluated)."""

LoopParallel = bool | BoolStr | ParallelLimit | Expr
"""`_parallel` of a loop operator (`loop>`, `for_each>`, `for_range>`): may be `${...}`."""

BoolValue = bool | BoolStr | Expr
"""A boolean option of an operator (evaluated, so `${...}` works)."""


class Cache(Model):
    """`_cache: {inputs: [globs], outputs: [globs]}`: skip the task (sh>, py>) when its image,
    command, params and input files are unchanged, restoring its outputs and stored params.

    Globs are relative to the task's folder; on a group it applies to every task below.
    `_cache: false` (`cache=False`) turns an inherited one off.
    """

    inputs: StrTuple | None = None
    outputs: StrTuple | None = None

    @model_validator(mode="after")
    def _globs(self) -> Cache:
        for key in ("inputs", "outputs"):
            for pattern in getattr(self, key) or ():
                if not pattern.strip():
                    raise ValueError(f"{key}: an empty glob")
                if not is_expr(pattern) and pattern.startswith(("/", "~")):
                    raise ValueError(f"{key}: {pattern!r} must be relative to the task's folder")
        return self


CacheValue = Literal[False] | Cache
"""`_cache`: a `Cache`, or False to turn an inherited one off."""


class Docker(Model):
    """The `docker:` option: run `sh>`/`py>` commands in a container.

    Usually exported for a whole workflow or group (`_export={"docker": Docker(...)}`, stored
    as its mapping), or set on one `Sh`/`Py` task.
    """

    image: str
    docker: str | None = None
    """Path of the docker CLI (default `docker`)."""
    pull_always: BoolValue | None = None
    selinux: BoolValue | None = None
    run_options: StrTuple | None = None
    build: StrTuple | None = None
    """Commands run as `RUN` lines of a derived image."""
    build_options: StrTuple | None = None


_OFFSET = re.compile(r"^[+-][0-9]{2}:?[0-9]{2}$")


def _timezone(value: str) -> str:
    if _OFFSET.match(value):
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}: use an IANA name like 'Asia/Tokyo'"
                         " or an offset like '+09:00'") from None
    return value


Timezone = Annotated[str, AfterValidator(_timezone)]
"""An IANA zone name (`UTC`, `Asia/Tokyo`) or a fixed offset (`+09:00`)."""


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("expected a mapping of NAME: value")
    for key in value:
        if not isinstance(key, str) or not ENV_NAME.match(key):
            raise ValueError(f"invalid environment variable name {key!r}:"
                             " use letters, digits and _, not starting with a digit")
    return json_value(value, "")  # type: ignore[no-any-return]


Env = Annotated[dict[str, Any], BeforeValidator(_env)]
"""`_env`: extra environment variables of a task (`${secret:key}` works in values)."""
