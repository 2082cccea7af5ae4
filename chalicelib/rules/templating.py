"""Jinja2 templates rendered in a sandbox with undefined variables as errors (docs/behaviour.md section 6)."""
from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from chalicelib.core import catalog
from chalicelib.core.catalog import SYSTEM_PREFIX, is_system, system_template_id  # noqa: F401 - the templates' ids
from chalicelib.core.errors import ValidationFailed

#: The parts of a template and the longest each may be, in characters.
PARTS: Mapping[str, int] = {"subject": 200, "body_text": 20_000, "body_html": 100_000, "sms_body": 1_600}
#: Rendered output longer than this is an error: the sandbox does not bound resource use by itself.
MAX_OUTPUT = 200_000
MAX_REPEAT = 10_000
MAX_EXPONENT = 64
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


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox plus bounds on the operators that can build huge values."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, op, left, right):  # noqa: ANN001 - Jinja2's signature
        if op == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and len(seq) * count > MAX_REPEAT:
                    raise SecurityError("repetition too large")
            return operator.mul(left, right)
        if op == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise SecurityError("exponent too large")
            return operator.pow(left, right)
        return super().call_binop(context, op, left, right)


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
    for part, source in parts.items():
        if source is None:
            continue
        env = _env_for(part)
        try:
            ast = env.parse(source)
        except TemplateSyntaxError as e:
            raise ValidationFailed(f"{part}: does not compile (line {e.lineno}: {e.message})", field=part) from None
        unknown = sorted(meta.find_undeclared_variables(ast) - set(allowed))
        # Jinja provides `self` implicitly, so it is never "undeclared"; messages have no use for it.
        unknown += sorted({n.name for n in ast.find_all(nodes.Name) if n.name in _IMPLICIT and n.ctx == "load"})
        unknown += _attribute_uses(ast, allowed)
        if unknown:
            raise ValidationFailed(
                f"{part}: unknown variable '{unknown[0]}' for {type_} templates; "
                f"available: {', '.join(sorted(allowed))}", field=part)
        try:
            _render_part(part, env.from_string(source), sample)
        except TemplateRenderError as e:
            raise ValidationFailed(f"{part}: {e.cause}", field=part) from None


def _render_part(part: str, template, context: Mapping[str, Any]) -> str:
    try:
        chunks, size = [], 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateRenderError(f"renders to more than {MAX_OUTPUT} characters", part)
            chunks.append(chunk)
        return "".join(chunks).strip()
    except SecurityError as e:
        raise TemplateRenderError(f"not allowed in templates ({e})", part) from None
    except UndefinedError as e:
        raise TemplateRenderError(f"undefined variable ({e.message})", part) from None
    except TemplateRenderError:
        raise
    except (TemplateError, ArithmeticError, TypeError, ValueError, LookupError, AttributeError, RecursionError) as e:
        raise TemplateRenderError(f"failed to render ({type(e).__name__}: {e})", part) from None


@lru_cache(maxsize=256)
def _compiled(part: str, source: str):
    return _env_for(part).from_string(source)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body_text: str
    body_html: str | None
    sms_body: str


def render(parts: Mapping[str, str | None], context: Mapping[str, Any]) -> Rendered:
    """Render every part of a template; raises TemplateRenderError."""
    out = {}
    for part in PARTS:
        source = parts.get(part)
        if source is None:
            out[part] = None
            continue
        try:
            template = _compiled(part, source)
        except TemplateSyntaxError as e:
            raise TemplateRenderError(f"does not compile: {e.message}", part) from None
        out[part] = _render_part(part, template, context)
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
