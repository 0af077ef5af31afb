"""`${...}` template evaluation with JavaScript semantics (Digdag-compatible).

    Evaluator(timezone="UTC", now=None)          one per workflow timezone; reuse it
        .render(text, params) -> str               "${a}-${b.c}" -> "x-y"; "$$" -> "$"
        .render_value(value, params) -> Any        the same, through dicts and lists
    has_template(text) -> bool                     cheap pre-check: False means nothing to do

Expressions run in an embedded JavaScript engine (quickjs) with the params in scope, as
Digdag's `with(params)`.  Results become text: null/undefined -> "", objects and arrays ->
JSON.  `moment` (our own implementation, dockerflow/expr/moment.js) defaults to the
evaluator's timezone.  Failures raise dockerflow.errors.ExprError naming the expression.
"""

from dockerflow.expr.evaluator import Evaluator
from dockerflow.expr.template import has_template

__all__ = ["Evaluator", "has_template"]
