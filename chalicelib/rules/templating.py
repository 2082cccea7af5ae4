"""Jinja2 templates rendered in a sandbox with undefined variables as errors (docs/behaviour.md section 6).

A template is code written by a store and run by the dispatcher for every customer, so the sandbox bounds
what one render may spend, whatever the customer's data: time, the size of every value it builds and of
what it outputs, loop iterations and how deep macros call each other. A render over a bound raises
TemplateRenderError naming the bound, and never MemoryError, RecursionError or a hang (`_Budget`)."""
from __future__ import annotations

import inspect
import operator
import re
import time
import types
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, update_wrapper
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from jinja2 import StrictUndefined, meta, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.runtime import BlockReference, LoopContext, Macro
from jinja2.sandbox import (
    SandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from jinja2.utils import Namespace, _PassArg, pass_context
from markupsafe import Markup, escape

from chalicelib.core import catalog
from chalicelib.core.catalog import SYSTEM_PREFIX, is_system, system_template_id  # noqa: F401 - the templates' ids
from chalicelib.core.errors import ValidationFailed

#: The parts of a template and the longest each may be, in characters.
PARTS: Mapping[str, int] = {"subject": 200, "body_text": 20_000, "body_html": 100_000, "sms_body": 1_600}
#: Parts that become a single line (the subject is an email header): a line break in them is an error.
SINGLE_LINE_PARTS = frozenset({"subject"})

# --- the bounds of one render (every part of a template, or the save-time check of its parts) ------------
#: Characters a rendered part may have, and any one value a template builds: a string, or the text of a
#: list or mapping. Twice the longest part (body_html, 100,000): room for any message, and a value this
#: size costs at most a few milliseconds to copy or scan.
MAX_OUTPUT = 200_000
#: Characters everything a render produces may come to together (output, `~`, `+`, `%`, format, filters,
#: string methods, macro results): ten values of the largest size. Bounds memory (a few MB) and the work
#: of building many values that are each within MAX_OUTPUT.
MAX_PRODUCED = 2_000_000
#: Items a repetition (`'-' * 40`, `[x] * 3`) may produce.
MAX_REPEAT = 10_000
#: The largest exponent of `**`.
MAX_EXPONENT = 64
#: Bits of an integer a template computes (about 300 digits): arithmetic on larger ones is a CPU sink.
MAX_INT_BITS = 1_024
#: Iterations of all the loops of one render together. A message loops over a customer's few tags or
#: interests; ten thousand leaves room for any real template and stops a loop over a long string or a
#: list that grows as it is iterated.
MAX_LOOP_ITERATIONS = 10_000
#: How deep macro calls (and `caller()`, recursive loops' `loop()` and `self.block()`) may nest. Real templates nest two or three;
#: bounding the depth ends unbounded recursion at once, and MAX_RENDER_SECONDS ends the exponential kind.
MAX_CALL_DEPTH = 10
#: How deep the lists and mappings of a value a template builds or prints may nest.
MAX_NESTING = 100
#: Wall-clock seconds a render may take, checked at every call, attribute, operator, filter, output and
#: loop iteration. A system template renders in well under a millisecond; a dispatcher batch of 10 sends
#: with a 60 s timeout can afford a second per send, and a preview (save check plus render) two.
MAX_RENDER_SECONDS = 1.0
#: A template is one DynamoDB item (at most 400 KB); its parts together stay well below that.
MAX_TEMPLATE_BYTES = 350_000

#: System templates ship in `templates/` beside app.py; the package build copies them there in the zip.
SYSTEM_DIR = Path(__file__).resolve().parent.parent / "templates"
_FILES = {"subject": "subject.txt", "body_text": "body.txt", "body_html": "body.html", "sms_body": "sms.txt"}


class TemplateRenderError(Exception):
    """A template failed to render; the message names the cause, `part` the part that failed."""

    def __init__(self, message: str, part: str | None = None) -> None:
        super().__init__(f"{part}: {message}" if part else message)
        self.part = part
        self.cause = message


# --- the budget -----------------------------------------------------------------------------------

class _OverLimit(Exception):
    """Raised inside a render when it passes a bound; becomes TemplateRenderError naming the part.
    Not a TypeError or ValueError, so that no filter's own error handling swallows it."""


def _over_output() -> _OverLimit:
    return _OverLimit(f"builds text longer than the limit of {MAX_OUTPUT} characters (MAX_OUTPUT)")


class _Budget:
    """What one render may still spend. Held in a context variable while a part renders, so the sandbox's
    hooks (which Jinja calls without it) find it. Its clock runs only while parts render: compiling a
    template is not rendering it."""

    __slots__ = ("deadline", "depth", "iterations", "produced", "remaining")

    def __init__(self) -> None:
        self.remaining = MAX_RENDER_SECONDS
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS
        self.iterations = self.produced = self.depth = 0

    def resume(self) -> None:
        self.deadline = time.monotonic() + self.remaining

    def pause(self) -> None:
        self.remaining = self.deadline - time.monotonic()

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise _OverLimit(f"takes longer than the time limit of {MAX_RENDER_SECONDS:g} s (MAX_RENDER_SECONDS)")

    def iterate(self) -> None:
        self.iterations += 1
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise _OverLimit(f"loops more than the limit of {MAX_LOOP_ITERATIONS} iterations (MAX_LOOP_ITERATIONS)")
        self.tick()

    def produce(self, size: int) -> None:
        self.produced += size
        if self.produced > MAX_PRODUCED:
            raise _OverLimit(f"produces more than the limit of {MAX_PRODUCED} characters in all "
                             "(MAX_PRODUCED)")
        self.tick()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            self.depth -= 1
            raise _OverLimit(f"nests macro calls deeper than the limit of {MAX_CALL_DEPTH} (MAX_CALL_DEPTH)")
        self.tick()

    def leave(self) -> None:
        self.depth -= 1


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _budget() -> _Budget:
    """The running render's budget; outside a render (compile-time folding), a fresh one."""
    return _BUDGET.get() or _Budget()


# --- sizes ------------------------------------------------------------------------------------------

_CONTAINERS = (list, tuple, set, frozenset, dict)
_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))


def _weight(value: Any, limit: int = MAX_OUTPUT, memo: dict | None = None, depth: int = 0) -> int:
    """About how many characters `str(value)` comes to (a list's text repeats a shared item each time it
    appears); stops counting once past `limit`."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (bytes, bytearray)):
        return 4 * len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 2
    if isinstance(value, Namespace):
        value = value._Namespace__attrs  # its text is its attributes'
    elif not isinstance(value, _CONTAINERS + _VIEWS):
        return 32  # a number, a macro, a loop, an undefined...: short text
    memo = {} if memo is None else memo
    key = id(value)
    if key in memo:
        return memo[key]
    if depth >= MAX_NESTING:
        raise _OverLimit(f"nests lists or mappings deeper than the limit of {MAX_NESTING} (MAX_NESTING)")
    memo[key] = 5  # a value inside itself prints as [...]
    mapping = isinstance(value, dict)
    total = 2
    for item in (value.items() if mapping else value):
        if mapping:
            key_text, item = item
            total += _weight(key_text, limit - total, memo, depth + 1) + 2
        total += _weight(item, limit - total, memo, depth + 1) + 4
        if total > limit:
            break
    memo[key] = total
    return total


def _sum_weights(values: Iterable, limit: int = MAX_OUTPUT) -> int:
    """The text of these values side by side (`~`, join); stops counting once past `limit`."""
    total = 0
    for value in values:
        total += _weight(value, limit - total)
        if total > limit:
            break
    return total


def _check_size(*values: Any) -> None:
    """The text of these values together stays within MAX_OUTPUT."""
    _within(_sum_weights(values))


def _over_int() -> _OverLimit:
    return _OverLimit(f"computes a number larger than the limit of {MAX_INT_BITS} bits (MAX_INT_BITS)")


def _check_int(value: int) -> None:
    if value.bit_length() > MAX_INT_BITS:
        raise _over_int()


def _produced(value: Any) -> Any:
    """A value an operation produced: strings count towards MAX_PRODUCED, and no value passes MAX_OUTPUT."""
    if isinstance(value, (str, bytes)):
        if len(value) > MAX_OUTPUT:
            raise _over_output()
        _budget().produce(len(value))
    elif isinstance(value, int):
        _check_int(value)
    elif isinstance(value, _CONTAINERS + (Namespace,)):
        _check_size(value)
    return value


def _within(size: int) -> None:
    if size > MAX_OUTPUT:
        raise _over_output()


def _number(text: str) -> int:
    return int(text) if len(text) <= 9 else 10 ** 9


def _width(value: Any) -> int:
    """A width or count argument as Python will read it; 0 when it is not one (Python then raises)."""
    try:
        return operator.index(value)
    except TypeError:
        return 0


_SPEC_NUMBERS = re.compile(r"\d+")


def _check_format_spec(spec: str) -> None:
    """`{:>100000000}`: no width or precision in a format spec beyond MAX_OUTPUT."""
    if any(_number(n) > MAX_OUTPUT for n in _SPEC_NUMBERS.findall(spec)):
        raise _over_output()


_PERCENT = re.compile(r"%(?:\(([^)]*)\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.?)", re.DOTALL)


def _percent_size(template: str, values: Any) -> int:
    """An upper bound of the length of `template % values` ('%100000000d', '%*d', '%(a)9999s' * 99)."""
    positional = values if isinstance(values, tuple) else (values,)
    mapping = values if isinstance(values, Mapping) else {}
    size, index = len(template), 0
    for match in _PERCENT.finditer(template):
        key, width, precision, conversion = match.groups()
        if conversion == "%":
            continue
        for number in (width, precision):
            if number == "*":
                size += abs(_width(positional[index])) if index < len(positional) else 0
                index += 1
            elif number:
                size += _number(number)
        if key is not None:
            value = mapping.get(key)
        else:
            value = positional[index] if index < len(positional) else None
            index += 1
        size += _weight(value) + 32
        if size > MAX_OUTPUT:
            break
    return size


def _replace_size(s: Any, old: Any, new: Any, count: Any) -> int:
    """An upper bound of the length of `s.replace(old, new, count)`, escaped or not (Markup escapes)."""
    texts = {str(s), str(escape(s))}
    olds = {str(old), str(escape(old))}
    longest_new = max(len(str(new)), len(str(escape(new))))
    occurrences = max((text.count(o) if o else len(text) + 1) for text in texts for o in olds)
    count = _width(count) if count is not None else -1
    if count >= 0:
        occurrences = min(occurrences, count)
    return max(len(t) for t in texts) + occurrences * longest_new


def _lines(text: str) -> int:
    return text.count("\n") + 1


# What string methods with a size argument would produce, before they produce it. Markup has the same
# methods (escaping their arguments), and so do bytes.
def _str_method_size(method: str, s: Any, args: tuple, kwargs: dict) -> int | None:
    def arg(i: int, name: str, default: Any = None) -> Any:
        return args[i] if len(args) > i else kwargs.get(name, default)

    if method in ("ljust", "rjust", "center", "zfill"):
        return max(len(s), _width(arg(0, "width", 0)))
    if method == "expandtabs":
        return len(s) + s.count("\t" if isinstance(s, str) else b"\t") * max(_width(arg(0, "tabsize", 8)), 0)
    if method == "replace" and isinstance(s, str):
        return _replace_size(s, arg(0, "old", ""), arg(1, "new", ""), arg(2, "count", -1))
    if method == "replace":
        old, new = arg(0, "old", b""), arg(1, "new", b"")
        if isinstance(old, bytes) and isinstance(new, bytes):
            return len(s) + (s.count(old) if old else len(s) + 1) * len(new)
    if method == "translate":
        table = arg(0, "table")
        if isinstance(table, Mapping):
            longest = max([_weight(v) for v in table.values()] + [1])
            return len(s) * longest
    return None


def _check_str_call(obj: Any, args: tuple, kwargs: dict) -> tuple:
    """Bound the size of a string method's result before calling it; returns the arguments to call with."""
    s, method = obj.__self__, obj.__name__
    if method == "join":
        if args:
            items = list(args[0])  # a generator is read once, here
            _within(_sum_weights(items) + len(s) * len(items))
            args = (items,) + args[1:]
        return args
    size = _str_method_size(method, s, args, kwargs)
    if size is not None:
        _within(size)
    return args


def _is_text_method(obj: Any) -> bool:
    return (isinstance(obj, (types.BuiltinMethodType, types.MethodType))
            and isinstance(getattr(obj, "__self__", None), (str, bytes, bytearray)))


def _is_container_method(obj: Any) -> bool:
    return (isinstance(obj, (types.BuiltinMethodType, types.MethodType))
            and isinstance(getattr(obj, "__self__", None), (list, dict, set)))


class _Counted:
    """A loop's iterable, counting each iteration against MAX_LOOP_ITERATIONS."""

    __slots__ = ("_iterable", "_iterator")

    def __init__(self, iterable: Any) -> None:
        self._iterable = iterable
        self._iterator = iter(iterable)

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        item = next(self._iterator)
        _budget().iterate()
        return item

    def __len__(self) -> int:  # loop.length; a TypeError here makes Jinja count by iterating
        return len(self._iterable)


# --- filters --------------------------------------------------------------------------------------
# Each built-in filter runs after a check of the size of its arguments' text, and of what it would
# produce where that can be known first; its result is counted and checked too.

def _size_center(value, width=80):
    return max(_weight(value), _width(width))


def _size_indent(s, width=4, first=False, blank=False):
    pad = len(width) if isinstance(width, str) else max(_width(width), 0)
    return _weight(s) + _lines(str(s)) * pad


def _size_format(value, *args, **kwargs):
    return _percent_size(str(value), kwargs or args)


def _size_replace(s, old, new, count=None):
    return _replace_size(s, old, new, count)


def _size_join(value, d="", attribute=None):
    items = list(value) if isinstance(value, (str, *_CONTAINERS)) else []
    return _sum_weights(items) + len(str(d)) * len(items)


def _size_wordwrap(s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True):
    text = str(s)
    breaks = min(len(text), len(text) // max(_width(width), 1) + len(text.split()) + _lines(text))
    return len(text) + breaks * len(str(wrapstring if wrapstring is not None else "\n"))


def _size_urlize(value, trim_url_limit=None, nofollow=False, target=None, rel=None, extra_schemes=None):
    # Each link repeats its URL and adds a fixed tag (checked after) and the target and rel given (here).
    text = str(value)
    return len(text) + (len(text.split()) + 1) * (len(str(target or "")) + len(str(rel or "")))


def _size_batch(value, linecount, fill_with=None):
    return max(_width(linecount), 0) * (_weight(fill_with) + 4) if fill_with is not None else 0


def _size_slice(value, slices, fill_with=None):
    if _width(slices) > MAX_LOOP_ITERATIONS:
        raise _OverLimit(f"slices into more than the limit of {MAX_LOOP_ITERATIONS} parts (MAX_LOOP_ITERATIONS)")
    return 0


def _shape(value: Any, depth: int = 0) -> tuple[int, int]:
    """(how many items, how deep) a value's lists and mappings are."""
    if not isinstance(value, (list, tuple, dict)) or depth > MAX_NESTING:
        return 0, depth
    items, deepest = len(value), depth + 1
    for item in (value.values() if isinstance(value, dict) else value):
        n, d = _shape(item, depth + 1)
        items, deepest = items + n, max(deepest, d)
        if items > MAX_OUTPUT:
            break
    return items, deepest


def _size_tojson(value, indent=None):
    # Escaping at most sextuples the text (checked after); an indent repeats on every line (here).
    if indent is None:
        return _weight(value)
    pad = len(indent) if isinstance(indent, str) else max(_width(indent), 0)
    items, depth = _shape(value)
    return _weight(value) + (items + 1) * depth * pad


_FILTER_SIZES: Mapping[str, Callable[..., int]] = {
    "center": _size_center, "indent": _size_indent, "format": _size_format, "replace": _size_replace,
    "join": _size_join, "wordwrap": _size_wordwrap, "urlize": _size_urlize, "batch": _size_batch,
    "slice": _size_slice, "tojson": _size_tojson,
}


def _bounded_filter(name: str, func: Callable) -> Callable:
    pass_arg = _PassArg.from_obj(func)
    size_of = _FILTER_SIZES.get(name)
    signature = inspect.signature(size_of) if size_of else None

    # pass_context also keeps Jinja from running the filter at compile time, outside any budget.
    @pass_context
    def bounded(context, value, *args, **kwargs):
        _budget().tick()
        if name == "join" and isinstance(value, Iterator):
            value = list(value)
        _check_size(value, *args, *kwargs.values())
        if size_of is not None:
            try:
                bound = signature.bind(value, *args, **kwargs)
            except TypeError:
                pass  # the filter itself reports the wrong arguments
            else:
                _within(size_of(*bound.args, **bound.kwargs))
        if pass_arg is _PassArg.context:
            result = func(context, value, *args, **kwargs)
        elif pass_arg is _PassArg.eval_context:
            result = func(context.eval_ctx, value, *args, **kwargs)
        elif pass_arg is _PassArg.environment:
            result = func(context.environment, value, *args, **kwargs)
        else:
            result = func(value, *args, **kwargs)
        return _produced(result)

    bounded.__name__ = bounded.__qualname__ = f"bounded_{name}"
    return bounded


# --- the sandbox ----------------------------------------------------------------------------------

class _BoundedFormatting:
    """str.format and format_map: no field wider than MAX_OUTPUT, and the result within it as it grows."""

    def vformat(self, format_string, args, kwargs):
        self._size = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value, conversion):
        _check_size(value)
        return super().convert_field(value, conversion)

    def format_field(self, value, format_spec):
        _budget().tick()
        _check_format_spec(format_spec)
        _check_size(value)
        result = super().format_field(value, format_spec)
        self._size += len(result)
        _within(self._size)
        return result


class _BoundedFormatter(_BoundedFormatting, SandboxedFormatter):
    pass


class _BoundedEscapeFormatter(_BoundedFormatting, SandboxedEscapeFormatter):
    pass


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles templates so that every piece of output, every `~`, every list, tuple and mapping literal
    and every loop goes through the budget."""

    def _output_const_repr(self, group):
        return f"environment._bounded_text({super()._output_const_repr(group)})"

    def _output_child_pre(self, node, frame, finalize):
        self.write("environment._bounded_text(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node, frame, finalize):
        super()._output_child_post(node, frame, finalize)
        self.write(")")

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"environment._bounded_concat({func_name}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    # `[x, x]` shares x, but its text, a comparison or a sort walks x twice: doubled fifty times, that is
    # 2**50 walks of x from a few bytes of memory. So literals are bounded as every other value is.
    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment._bounded_value(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # `{% for a, b in ... %}` assigns to it
            super().visit_Tuple(node, frame)
            return
        self.write("environment._bounded_value(")
        super().visit_Tuple(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment._bounded_value(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        counted = nodes.Call(nodes.EnvironmentAttribute("_bounded_iter", lineno=node.lineno), [node.iter], [],
                             None, None, lineno=node.lineno)
        super().visit_For(nodes.For(node.target, counted, node.body, node.else_, node.test, node.recursive,
                                    lineno=node.lineno), frame)


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox plus the render budget: bounds on the operators, calls, filters, formatting, output,
    loops and macro depth that can build huge values or spend unbounded time."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, finalize=self._finalize, **kwargs)
        self.filters = {name: _bounded_filter(name, func) for name, func in self.filters.items()}

    # Called by the compiled template (_BoundedCodeGenerator).
    @staticmethod
    def _finalize(value: Any) -> Any:
        _check_size(value)  # before `{{ value }}` turns it into text
        # A variable without a value this time (a store without a phone) prints nothing, not "None", so that
        # an owner's plain `{{ store.phone }}` needs no `{% if %}` around it.
        return "" if value is None else value

    @staticmethod
    def _bounded_text(text: str) -> str:
        _budget().produce(len(text))
        return text

    @staticmethod
    def _bounded_concat(join: Callable, values: tuple) -> str:
        _budget().tick()
        _check_size(*values)
        return _produced(join(values))

    @staticmethod
    def _bounded_value(value: Any) -> Any:
        _budget().tick()
        _check_size(value)
        return value

    @staticmethod
    def _bounded_iter(iterable: Any) -> _Counted:
        return _Counted(iterable)

    # The sandbox's hooks.
    def getattr(self, obj, attribute):  # noqa: ANN001 - Jinja2's signature
        _budget().tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):  # noqa: ANN001 - Jinja2's signature
        _budget().tick()
        return super().getitem(obj, argument)

    def call_binop(self, context, op, left, right):  # noqa: ANN001 - Jinja2's signature
        _budget().tick()
        if op == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int):
                    if len(seq) * count > MAX_REPEAT:
                        raise _OverLimit(f"repeats more than the limit of {MAX_REPEAT} items (MAX_REPEAT)")
                    _within(_weight(seq) * max(count, 0))
            if (isinstance(left, int) and isinstance(right, int)
                    and left.bit_length() + right.bit_length() > MAX_INT_BITS):
                raise _over_int()
        elif op == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise _OverLimit(f"raises to a power above the limit of {MAX_EXPONENT} (MAX_EXPONENT)")
            if (isinstance(left, int) and isinstance(right, int) and right > 0
                    and left.bit_length() * right > MAX_INT_BITS):
                raise _over_int()
        elif op == "+":
            if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, (str, bytes, list, tuple)):
                _check_size(left, right)
        elif op == "%" and isinstance(left, str):
            _within(_percent_size(left, right))
        return _produced(self.binop_table[op](left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805, ANN001 - Jinja2's signature
        budget = _budget()
        budget.tick()
        if isinstance(__obj, (Macro, LoopContext, BlockReference)):  # a macro, caller(), loop(), self.block()
            if isinstance(__obj, LoopContext) and args:
                args = (_Counted(args[0]),) + args[1:]  # loop(children) in a recursive loop
            budget.enter()
            try:
                return _produced(super().call(__context, __obj, *args, **kwargs))
            finally:
                budget.leave()
        if _is_text_method(__obj) and __obj.__name__ in ("format", "format_map"):
            __obj = __self.wrap_str_format(__obj)  # already so wherever Jinja looks it up; in case of a new way
        elif _is_text_method(__obj):
            args = _check_str_call(__obj, args, kwargs)
        elif _is_container_method(__obj):
            _check_size(__obj.__self__, *args, *kwargs.values())  # append, extend, update: growth
        return _produced(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's own (it sandboxes str.format and format_map where they are looked up), with formatters
        that bound field widths and the result's size."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or value.__name__ not in (
                "format", "format_map"):
            return None
        f_self: Any = value.__self__
        if not isinstance(f_self, str):
            return None
        str_type = type(f_self)
        is_format_map = value.__name__ == "format_map"
        formatter: SandboxedFormatter
        if isinstance(f_self, Markup):
            formatter = _BoundedEscapeFormatter(self, escape=f_self.escape)
        else:
            formatter = _BoundedFormatter(self)

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs = args[0]
                args = ()
            return str_type(formatter.vformat(f_self, args, kwargs))

        return update_wrapper(wrapper, value)


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = _BoundedSandbox(undefined=StrictUndefined, autoescape=autoescape, trim_blocks=True,
                          lstrip_blocks=True, keep_trailing_newline=False)
    # Messages have no use for these, and they are the cheap ways to spend CPU.
    for name in ("range", "lipsum", "cycler", "joiner"):
        env.globals.pop(name, None)
    return env


_TEXT_ENV = _environment(autoescape=False)
_HTML_ENV = _environment(autoescape=True)


def _env_for(part: str) -> SandboxedEnvironment:
    return _HTML_ENV if part == "body_html" else _TEXT_ENV


_IMPLICIT = frozenset({"self", "varargs", "kwargs"})


def _attribute_uses(ast: nodes.Template, objects: Mapping[str, tuple | None]) -> list[str]:
    """`customer.foo` style uses of fields that an object variable does not have."""
    unknown = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not isinstance(target, nodes.Name) or target.name not in objects:
            continue
        fields = objects[target.name]
        if isinstance(node, nodes.Getattr):
            attr = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            attr = node.arg.value
        else:
            continue
        if fields is None or attr not in fields:
            unknown.append(f"{target.name}.{attr}")
    return unknown


def check_template(type_: str, parts: Mapping[str, str | None]) -> None:
    """Reject a template that does not compile, uses a variable its type lacks, or fails to render."""
    allowed = catalog.template_variables(type_)
    sample = sample_context(type_)
    sizes = {part: len(source.encode("utf-8")) for part, source in parts.items() if source}
    if sum(sizes.values()) > MAX_TEMPLATE_BYTES:
        largest = max(sizes, key=sizes.get)
        raise ValidationFailed(f"{largest}: the template's parts together exceed {MAX_TEMPLATE_BYTES} bytes",
                               field=largest)
    budget = _Budget()
    for part, source in parts.items():
        if source is None:
            continue
        env = _env_for(part)
        try:
            ast = env.parse(source)
        except TemplateSyntaxError as e:
            raise ValidationFailed(f"{part}: does not compile (line {e.lineno}: {e.message})", field=part) from None
        except (RecursionError, MemoryError):
            raise ValidationFailed(f"{part}: {_TOO_DEEP}", field=part) from None
        unknown = sorted(meta.find_undeclared_variables(ast) - set(allowed))
        # Jinja provides `self` implicitly, so it is never "undeclared"; messages have no use for it.
        unknown += sorted({n.name for n in ast.find_all(nodes.Name) if n.name in _IMPLICIT and n.ctx == "load"})
        unknown += _attribute_uses(ast, allowed)
        if unknown:
            raise ValidationFailed(
                f"{part}: unknown variable '{unknown[0]}' for {type_} templates; "
                f"available: {', '.join(sorted(allowed))}", field=part)
        try:
            _render_part(part, _compile(part, source), sample, budget)
        except TemplateRenderError as e:
            raise ValidationFailed(f"{part}: {e.cause}", field=part) from None


_TOO_DEEP = "does not compile: nested too deeply"
_LINE_BREAK = re.compile("[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")  # what str.splitlines splits at


def _compile(part: str, source: str):
    try:
        return _env_for(part).from_string(source)
    except TemplateSyntaxError as e:
        raise TemplateRenderError(f"does not compile: {e.message}", part) from None
    except (RecursionError, SyntaxError, MemoryError):
        # Nesting deeper than Jinja's parser or Python's compiler go (a SyntaxError: "too many levels of
        # indentation", "too many statically nested blocks").
        raise TemplateRenderError(_TOO_DEEP, part) from None


def _render_part(part: str, template, context: Mapping[str, Any], budget: _Budget) -> str:
    token = _BUDGET.set(budget)
    budget.resume()
    try:
        chunks, size = [], 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateRenderError(f"renders to more than the limit of {MAX_OUTPUT} characters (MAX_OUTPUT)",
                                          part)
            chunks.append(chunk)
        text = "".join(chunks).strip()
    except _OverLimit as e:
        raise TemplateRenderError(str(e), part) from None
    except SecurityError as e:
        raise TemplateRenderError(f"not allowed in templates ({e})", part) from None
    except UndefinedError as e:
        raise TemplateRenderError(f"undefined variable ({e.message})", part) from None
    except TemplateRenderError:
        raise
    except RecursionError:
        raise TemplateRenderError("failed to render: nested too deeply", part) from None
    except MemoryError:  # the bounds above keep a render far below this; it is not the dispatcher's to die of
        raise TemplateRenderError("failed to render: out of memory", part) from None
    except Exception as e:  # noqa: BLE001 - whatever a store's template does wrong is that template's error
        raise TemplateRenderError(f"failed to render ({type(e).__name__}: {e})", part) from None
    finally:
        budget.pause()
        _BUDGET.reset(token)
    if part in SINGLE_LINE_PARTS and _LINE_BREAK.search(text):
        # It becomes an email header: a customer's name "Bob\r\nBcc: ..." must not add one.
        raise TemplateRenderError(f"the {part} has a line break", part)
    return text


@lru_cache(maxsize=256)
def _compiled(part: str, source: str):
    return _compile(part, source)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body_text: str
    body_html: str | None
    sms_body: str


def render(parts: Mapping[str, str | None], context: Mapping[str, Any]) -> Rendered:
    """Render every part of a template; raises TemplateRenderError."""
    out = {}
    budget = _Budget()  # one for the whole template: MAX_RENDER_SECONDS is per render, not per part
    for part in PARTS:
        source = parts.get(part)
        if source is None:
            out[part] = None
            continue
        out[part] = _render_part(part, _compiled(part, source), context, budget)
    return Rendered(**out)


# --- context ------------------------------------------------------------------------------------

def customer_variables(customer: Mapping[str, Any]) -> dict:
    first, last = customer.get("first_name") or "", customer.get("last_name") or ""
    return {
        "first_name": first, "last_name": last, "full_name": f"{first} {last}".strip(),
        "email": customer.get("email"), "phone": customer.get("phone"),
        "birthday": customer.get("birthday"), "anniversary": customer.get("anniversary"),
        "points_balance": customer.get("points_balance") or 0,
        "tags": list(customer.get("tags") or []), "interests": list(customer.get("interests") or []),
    }


def store_variables(settings: Mapping[str, Any]) -> dict:
    return {
        "name": settings.get("store_name") or "", "phone": settings.get("store_phone"),
        "email": settings.get("reply_to") or settings.get("sender_email"),
        "address": settings.get("store_address"), "website": settings.get("store_website"),
    }


def build_context(type_: str, *, customer: Mapping[str, Any], settings: Mapping[str, Any],
                  automation_name: str, extras: Mapping[str, Any] | None = None) -> dict:
    """Every variable the type provides; the ones without a value this time are None."""
    context: dict[str, Any] = {name: None for name in catalog.template_variables(type_)}
    context.update(customer=customer_variables(customer), store=store_variables(settings),
                   automation={"type": type_, "name": automation_name})
    for name, value in (extras or {}).items():
        if name not in context:
            raise KeyError(f"{name} is not a variable of {type_} templates")
        context[name] = value
    return context


SAMPLE_CUSTOMER = {
    "first_name": "Ava", "last_name": "Sample", "email": "ava@example.com", "phone": "+61400000000",
    "birthday": "1990-05-17", "anniversary": "--09-12", "points_balance": 1200,
    "tags": ["vip"], "interests": ["rings"],
}
SAMPLE_EXTRAS: Mapping[str, Any] = {
    "discount_code": "BDAY-SAMPLE",
    "offer": "15% off your next piece",
    "repair": {"repair_id": "R-1001", "description": "Ring resize", "status": "ready",
               "ready_at": "12 May 2026", "created_at": "2 May 2026"},
    "appointment": {"appointment_id": "A-1001", "starts_at": "Friday 15 May, 2:30 pm",
                    "purpose": "Engagement ring consultation"},
    "sale": {"sale_id": "S-1001", "completed_at": "14 May 2026", "total": 1250},
    "review_url": "https://example.com/review",
    "unsubscribe_url": "https://example.com/unsubscribe/sample",
    "campaign": "Spring collection preview",
}


def sample_context(type_: str, customer: Mapping[str, Any] | None = None,
                   settings: Mapping[str, Any] | None = None) -> dict:
    """A context with every variable filled, for save-time checks and previews."""
    names = catalog.template_variables(type_)
    extras = {name: value for name, value in SAMPLE_EXTRAS.items() if name in names}
    name = catalog.name_of(type_)
    return build_context(type_, customer=customer or SAMPLE_CUSTOMER,
                         settings=settings or {"store_name": "Your Store"},
                         automation_name=name, extras=extras)


# --- system templates ------------------------------------------------------------------------

@lru_cache(maxsize=None)
def system_template(type_: str) -> dict:
    """The shipped template of a type, as an API record."""
    if type_ not in catalog.TEMPLATE_TYPES:
        raise KeyError(type_)
    folder = SYSTEM_DIR / type_
    parts = {}
    for part, filename in _FILES.items():
        path = folder / filename
        parts[part] = path.read_text(encoding="utf-8").strip() if path.exists() else None
    name = catalog.name_of(type_)
    return {"template_id": system_template_id(type_), "type": type_, "name": name, "system": True, **parts}
