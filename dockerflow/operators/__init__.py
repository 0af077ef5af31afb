"""Operators: one class per `x>`; each turns (config, params) into a result or child tasks.

Which operators exist and the options each reads is dig/operator_options.py's table, which
validation uses without importing this package; `OPERATORS` must match it.
"""

from __future__ import annotations

from dockerflow.dig.operator_options import OPERATOR_NAMES, OPERATOR_OPTIONS
from dockerflow.operators.base import Operator, OperatorContext
from dockerflow.operators.flow import (
    CallOperator,
    ForEachOperator,
    ForRangeOperator,
    IfOperator,
    LoopOperator,
)
from dockerflow.operators.http import HttpOperator
from dockerflow.operators.http_call import HttpCallOperator
from dockerflow.operators.mail import MailOperator
from dockerflow.operators.notify import NotifyOperator
from dockerflow.operators.param import ParamGetOperator, ParamSetOperator
from dockerflow.operators.py import PyOperator
from dockerflow.operators.require import RequireOperator
from dockerflow.operators.sh import ShOperator
from dockerflow.operators.simple import EchoOperator, FailOperator, WaitOperator

OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (ShOperator(), PyOperator(), EchoOperator(), FailOperator(), WaitOperator(),
               CallOperator(), IfOperator(), LoopOperator(), ForEachOperator(),
               ForRangeOperator(), HttpOperator(), HttpCallOperator(), RequireOperator(),
               MailOperator(), ParamSetOperator(), ParamGetOperator(), NotifyOperator())
}

__all__ = ["OPERATORS", "OPERATOR_NAMES", "OPERATOR_OPTIONS", "Operator", "OperatorContext"]
