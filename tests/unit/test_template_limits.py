"""The render budget (docs/behaviour.md section 6): a template that would build huge values, loop, recurse or run
for long fails with TemplateRenderError naming the limit, quickly, never with MemoryError or a hang; and
templates within the limits render exactly as plain Jinja renders them."""
from __future__ import annotations

import re
import time
import tracemalloc

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from chalicelib.core import catalog
from chalicelib.core.errors import ValidationFailed
from chalicelib.rules import templating

#: A guard against hangs, not a benchmark: the time limit is MAX_RENDER_SECONDS, far below this.
GUARD_SECONDS = 5
#: A guard against memory blow-ups: each payload asks for 100 MB to many GB unbounded; bounded, a few MB.
GUARD_BYTES = 64 * 2**20

#: Builds a list of 10**4 references to a 10**4-character string, nested: str() of it is 10**8 characters.
DAG = ('{% set a = "x" * 10000 %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}{% set c = [b,b,b,b,b,b,b,b,b,b] %}'
       '{% set d = [c,c,c,c,c,c,c,c,c,c] %}{% set e = [d,d,d,d,d,d,d,d,d,d] %}')
#: Doubles a value 50 times over (2**50 copies of "x" in the end) through a namespace, which outlives the loop.
DOUBLED = '{% set ns = namespace(l=["x"]) %}{% for c in "x" * 50 %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}'

#: Two values doubled apart, 50 times each, the way of building them given as the format's arguments.
TWO_DOUBLED = ('{{% set ns = namespace(a=["x"], b=["x"]) %}}{{% for c in "x" * 50 %}}{{% set ns.a = {} %}}'
               '{{% set ns.b = {} %}}{{% endfor %}}')


def _doubling(step: str, start: str = '"ab"') -> str:
    """A string doubled by `step` (an expression of ns.s) on each of 5,000 iterations."""
    return (f'{{% set ns = namespace(s={start}) %}}{{% for c in "x" * 5000 %}}{{% set ns.s = {step} %}}'
            '{% endfor %}{{ ns.s|length }}')


#: Every payload of the issue, and the variants found around them.
PAYLOADS = [
    # padding and width arguments of str methods and filters
    '{{ "x".ljust(10**8) }}',
    '{{ "x".ljust(10**11) }}',
    '{{ "x".rjust(10**8) }}',
    '{{ "x".center(10**8) }}',
    '{{ "1".zfill(10**8) }}',
    '{{ "x"|center(10**8) }}',
    '{{ "x".encode().ljust(10**8) }}',
    '{{ "\t".expandtabs(10**8) }}',
    '{{ ("\t" * 10000).expandtabs(100000) }}',
    # % formatting and str.format
    '{{ "%100000000d"|format(1) }}',
    '{{ "%100000000d" % 1 }}',
    '{{ "%*d" % (100000000, 1) }}',
    '{{ "%(a)99999d" * 1000 % {"a": 1} }}',
    '{{ "%.100000000f" % 1.5 }}',
    '{{ "{:100000000}".format(1) }}',
    '{{ "{0:{1}}".format(1, 10**8) }}',
    '{{ ("{0:199999}" * 1000).format(1) }}',
    '{{ "{:.100000000f}".format(1.5) }}',
    '{{ "{a:100000000}".format_map({"a": 1}) }}',
    # repetition and concatenation
    '{{ "x" * 100000000 }}',
    '{{ [1] * 100000000 }}',
    '{{ "x".encode() * 100000000 }}',
    '{{ ["x" * 10000] * 10000 }}',
    '{% set a = "x" * 10000 %}' + '{% set a = a ~ a %}' * 14 + '{{ a|length }}',
    '{% set a = "x" * 10000 %}{{ (a' + ' ~ a' * 24 + ')|length }}',
    _doubling("ns.s ~ ns.s"),
    _doubling("ns.s + ns.s"),
    _doubling("ns.s * 2"),
    _doubling('"{0}{0}".format(ns.s)'),
    _doubling('"%s%s" % (ns.s, ns.s)'),
    _doubling("[ns.s, ns.s]|join"),
    _doubling("ns.s.ljust(ns.s|length * 2)"),
    _doubling("ns.s|center(ns.s|length * 2)"),
    _doubling('ns.s.replace("a", "aa")'),
    _doubling('(ns.s ~ "\t").expandtabs(8) ~ ns.s', start='"a\tb"'),
    # replace, join, translate, wordwrap, indent, urlize, tojson, batch, slice growing strings
    '{{ ("x" * 10000).replace("x", "y" * 10000) }}',
    '{{ ("x" * 10000)|replace("x", "y" * 10000) }}',
    '{{ ("x" * 10000).join("y" * 10000) }}',
    '{{ ("x" * 10000)|join("y" * 10000) }}',
    '{{ ("x" * 10000)|list|join("y" * 10000) }}',
    '{{ (["x" * 10000] * 10000)|join }}',
    '{{ ("x" * 10000).translate({120: "y" * 10000}) }}',
    '{{ "x"|wordwrap(1, wrapstring="y" * 100000) }}',
    '{{ ("x " * 5000)|wordwrap(1, wrapstring="y" * 10000) }}',
    '{{ ("a\n" * 5000)|indent(100000) }}',
    '{{ ("a\n" * 5000)|indent("x" * 100000) }}',
    '{{ ("http://a.b " * 1000)|urlize(target="x" * 10000) }}',
    '{{ {"a": [1]}|tojson(indent=100000000) }}',
    '{{ ([1] * 1000)|tojson(indent=10000) }}',
    '{{ "abc"|batch(100000000, "x")|list }}',
    '{{ "abc"|slice(100000000)|list }}',
    '{{ ("x" * 10000)|map("center", 100000)|join }}',
    '{{ ("<" * 100000)|urlencode|urlencode }}',
    # values whose text is huge though they are small in memory
    DAG + '{{ e }}',
    DAG + '{{ e|string|length }}',
    DAG + '{{ e|tojson|length }}',
    DAG + '{{ e|pprint|length }}',
    DAG + '{{ ("" ~ e)|length }}',
    DOUBLED + '{{ ns.l|tojson }}',
    DOUBLED + '{{ ns }}',
    DOUBLED + '{{ ns.l|sum(start=[]) }}',
    DOUBLED + '{{ ns.l|map("string")|join }}',
    DOUBLED + '{{ "%s" % ns.l }}',
    DOUBLED + '{{ "{}".format(ns.l) }}',
    DOUBLED + '{{ "{!r}".format(ns.l) }}',
    ('{% set ns = namespace(d=dict(a=1)) %}{% for c in "x" * 50 %}{% set ns.d = dict(a=ns.d, b=ns.d) %}{% endfor %}'
     '{{ ns.d|xmlattr }}'),
    '{% set ns = namespace(l=[]) %}{% for c in "x" * 5000 %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}',
    # ... and whose comparison walks them: two such values built apart share nothing to short-cut
    TWO_DOUBLED.format("[ns.a, ns.a]", "[ns.b, ns.b]") + '{{ ns.a == ns.b }}',
    TWO_DOUBLED.format("(ns.a, ns.a)", "(ns.b, ns.b)") + '{{ ns.a < ns.b }}',
    TWO_DOUBLED.format('{"k": ns.a, "j": ns.a}', '{"k": ns.b, "j": ns.b}') + '{{ ns.a in [ns.b] }}',
    TWO_DOUBLED.format("[ns.a, ns.a]", "[ns.b, ns.b]") + '{{ [ns.a, ns.b]|sort }}',
    # lists and mappings that grow
    '{% set l = ["x"] %}{% for c in "x" * 40 %}{{ l.extend(l) }}{% endfor %}{{ l|length }}',
    '{% set l = [1] %}{% for x in l %}{{ l.append(x) }}{% endfor %}',
    '{% set d = {} %}{% for c in "x" * 10000 %}{{ d.update({c ~ loop.index: "x" * 10000}) }}{% endfor %}{{ d }}',
    '{% set ns = namespace(l=[]) %}{% for c in "x" * 5000 %}{% set ns.l = ns.l + ns.l + [c] %}{% endfor %}',
    # loops
    '{% for a in "x" * 10000 %}{% for b in "x" * 10000 %}{{ b }}{% endfor %}{% endfor %}',
    '{% for a in "x" * 10000 %}{% for b in "x" * 10000 %}{% endfor %}{% endfor %}',
    '{% for c in (customer.tags * 5000) %}{{ customer.tags.append(c) }}{% endfor %}',
    ('{% for x in ("x" * 10)|list recursive %}{% if loop.depth < 9 %}{{ loop(("x" * 10)|list) }}{% endif %}'
     '{% endfor %}'),
    '{% for c in "x" * 9000 %}{{ c.center(100000) }}{% endfor %}',
    '{% filter upper %}{% for c in "x" * 9000 %}{{ "y" * 10000 }}{% endfor %}{% endfilter %}',
    '{% set x %}{% for c in "x" * 9000 %}{{ "y" * 10000 }}{% endfor %}{% endset %}{{ x|length }}',
    '{% for c in "x" * 9999 %}{{ ("ab" * 5000)|list|sort|join|length }}{% endfor %}',
    # macros calling themselves
    '{% macro f() %}{{ f() }}{{ f() }}{% endmacro %}{{ f() }}',
    '{% macro f(n) %}{% if n %}{{ f(n[1:]) }}{{ f(n[1:]) }}{% endif %}x{% endmacro %}{{ f("x" * 40) }}',
    ('{% macro f(n) %}{% if n %}{{ f(n[1:]) }}{{ f(n[1:]) }}{{ f(n[1:]) }}{{ f(n[1:]) }}{% endif %}{% endmacro %}'
     '{{ f("x" * 9) }}'),
    '{% macro f(s) %}{% if s|length < 10**8 %}{{ f(s ~ s) }}{% endif %}{{ s }}{% endmacro %}{{ f("ab") }}',
    '{% macro m() %}{% for c in "x" * 9000 %}{{ "y" * 10000 }}{% endfor %}{% endmacro %}{{ m()|length }}',
    '{% macro f() %}{% call f() %}{{ caller() }}{% endcall %}{% endmacro %}{{ f() }}',
    # blocks calling themselves (self is refused at save, but a stored template still renders)
    '{% block a %}{{ self.a() }}{% endblock %}',
    '{% block a %}x{{ self.a() }}{{ self.a() }}{% endblock %}',
    # numbers
    '{{ 9 ** 999999 }}',
    '{{ ((9 ** 64) ** 64) ** 64 }}',
    '{% set ns = namespace(n=9) %}{% for c in "x" * 30 %}{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}',
    # cheap for the sample customer (Ava), expensive for everyone else
    '{% if customer.first_name == "Ava" %}Hi Ava{% else %}{{ "x".ljust(10**11) }}{% endif %}',
]

#: How a limit's message names it: '... (MAX_OUTPUT)'.
LIMIT_NAMED = re.compile(r"\((MAX_[A-Z_]+)\)")


@pytest.fixture(scope="module")
def context():
    """What the dispatcher renders a birthday email with, for a customer who is not the sample one."""
    customer = {"first_name": "Bob", "last_name": "Stone", "email": "bob@example.com", "phone": "+61412345678",
                "birthday": "1990-05-17", "points_balance": 250, "tags": ["vip", "rings"], "interests": ["watches"]}
    return templating.build_context(
        "birthday", customer=customer, automation_name="Birthday Wishes",
        settings={"store_name": "Opal & Co", "sender_email": "hello@opal.example",
                  "store_website": "https://opal.example"},
        extras={"discount_code": "BDAY-1A2B3C4D", "unsubscribe_url": "https://opal.example/unsubscribe/t"})


@pytest.mark.parametrize("part", ["body_text", "body_html"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_every_payload_fails_quickly_naming_the_limit_it_passed(payload, part, context):
    tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    tracemalloc.reset_peak()
    started, before = time.monotonic(), tracemalloc.get_traced_memory()[0]
    try:
        with pytest.raises(templating.TemplateRenderError) as e:
            templating.render({part: payload}, context)
        elapsed, peak = time.monotonic() - started, tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    assert elapsed < GUARD_SECONDS
    assert peak < GUARD_BYTES
    assert e.value.part == part
    # Named for the limit, so not the catch-all that turns a stray MemoryError into a template error.
    assert LIMIT_NAMED.search(e.value.cause), e.value.cause


def test_each_limit_is_named_in_its_message(context):
    cases = {
        '{{ "x".ljust(10**6) }}': "MAX_OUTPUT",
        '{% for c in "x" * 10000 %}{% for d in "xx" %}{% endfor %}{% endfor %}': "MAX_LOOP_ITERATIONS",
        '{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}': "MAX_CALL_DEPTH",
        '{% macro f(n) %}{% if n %}{{ f(n[1:]) }}{{ f(n[1:]) }}{{ f(n[1:]) }}{{ f(n[1:]) }}{% endif %}{% endmacro %}'
        '{{ f("x" * 9) }}': "MAX_RENDER_SECONDS",
        '{% for c in "x" * 300 %}{% set s = "y" * 10000 %}{% endfor %}': "MAX_PRODUCED",
        '{{ "x" * 10001 }}': "MAX_REPEAT",
        '{{ 2 ** 65 }}': "MAX_EXPONENT",
        '{{ (2 ** 64) ** 17 }}': "MAX_INT_BITS",
        '{% set ns = namespace(l=[]) %}{% for c in "x" * 200 %}{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}':
            "MAX_NESTING",
    }
    for source, limit in cases.items():
        with pytest.raises(templating.TemplateRenderError) as e:
            templating.render({"body_text": source}, context)
        assert LIMIT_NAMED.search(e.value.cause).group(1) == limit, (source, e.value.cause)


def test_the_time_limit_is_for_the_whole_render_not_each_part(context, monkeypatch):
    monkeypatch.setattr(templating, "MAX_RENDER_SECONDS", 0.3)
    context = {**context, "wait": time.sleep}
    slow = "{{ wait(0.1) or '' }}x"
    for part in templating.PARTS:
        assert getattr(templating.render({part: slow}, context), part) == "x"
    with pytest.raises(templating.TemplateRenderError) as e:
        templating.render({part: slow for part in templating.PARTS}, context)  # 0.4 s of waiting
    assert "MAX_RENDER_SECONDS" in e.value.cause


def test_save_time_checks_reject_a_payload_naming_the_part_and_the_limit():
    with pytest.raises(ValidationFailed) as e:
        templating.check_template("birthday", {"subject": "Hi", "body_text": '{{ "x".ljust(10**11) }}'})
    assert e.value.field == "body_text" and "MAX_OUTPUT" in e.value.message


def test_a_template_cheap_for_the_sample_customer_is_bounded_for_a_real_one(context):
    source = '{% if customer.first_name == "Ava" %}Hi Ava{% else %}{{ "x".ljust(10**11) }}{% endif %}'
    templating.check_template("birthday", {"body_text": source})  # the sample customer is Ava
    with pytest.raises(templating.TemplateRenderError) as e:
        templating.render({"subject": "Hi", "body_text": source}, context)
    assert e.value.part == "body_text" and "MAX_OUTPUT" in e.value.cause


@pytest.mark.parametrize("source", [
    "{{ " + "(" * 1000 + "1" + ")" * 1000 + " }}",
    "{% if 1 %}" * 300 + "x" + "{% endif %}" * 300,
    '{% for a in "ab" %}' * 100 + "x" + "{% endfor %}" * 100,
])
def test_nesting_too_deep_to_compile_is_a_template_error_not_a_crash(source, context):
    with pytest.raises(templating.TemplateRenderError) as e:
        templating.render({"body_text": source}, context)
    assert e.value.part == "body_text" and "nested too deeply" in e.value.cause
    with pytest.raises(ValidationFailed) as saved:
        templating.check_template("birthday", {"body_text": source})
    assert saved.value.field == "body_text"


# --- the subject is one line --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Bob\r\nBcc: x@y", "Bob\nBcc: x@y", "Bob\rBcc: x@y", "Bob\u2028Bcc: x@y",
                                  "Bob\x85Bcc: x@y", "Bob\x0bBcc: x@y"])
def test_a_subject_with_a_line_break_fails_as_the_subject(name):
    context = templating.build_context("birthday", customer={"first_name": name}, settings={},
                                       automation_name="Birthday Wishes")
    template = templating.system_template("birthday")
    with pytest.raises(templating.TemplateRenderError) as e:
        templating.render({p: template[p] for p in templating.PARTS}, context)
    assert e.value.part == "subject" and e.value.cause == "the subject has a line break"


def test_line_breaks_stay_allowed_where_they_belong():
    context = templating.build_context("birthday", customer={"first_name": "Bob\nStone"}, settings={},
                                       automation_name="Birthday Wishes")
    rendered = templating.render({"subject": "Hi{{ '\n' }}", "body_text": "Hi {{ customer.first_name }}\nBye",
                                  "sms_body": "Hi\n{{ customer.first_name }}"}, context)
    assert rendered.subject == "Hi"  # a trailing break is trimmed, as every part's is
    assert rendered.body_text == "Hi Bob\nStone\nBye" and rendered.sms_body == "Hi\nBob\nStone"


def test_a_subject_with_a_line_break_is_refused_at_save():
    with pytest.raises(ValidationFailed) as e:
        templating.check_template("birthday", {"subject": "Happy birthday\n{{ customer.first_name }}"})
    assert e.value.field == "subject" and "line break" in e.value.message


# --- templates within the limits render as plain Jinja renders them ----------------------------------------

def _plain(part: str) -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=part == "body_html", trim_blocks=True,
                                lstrip_blocks=True, keep_trailing_newline=False)


#: The features real templates use, each within the limits.
EVERYDAY = [
    "Hi {{ customer.first_name|default('there', true)|title }}, {{ '-' * 40 }}",
    ("{% for tag in customer.tags %}{{ loop.index }}/{{ loop.length }} {{ tag|upper }}{% if not loop.last %}, "
     "{% endif %}{% endfor %}"),
    "{% for tag in customer.tags if tag != 'vip' %}{{ tag }}{% else %}none{% endfor %}",
    "{{ customer.tags|join(', ') }} {{ customer.interests|map('title')|join(' & ') }} {{ customer.tags|length }}",
    ("{{ '%.2f'|format(customer.points_balance / 3) }} {{ '%05d' % customer.points_balance }} "
     "{{ '{:,}'.format(customer.points_balance * 1000) }} {{ '{name}!'.format(name=store.name) }}"),
    "{{ customer.full_name|center(30) }}|{{ customer.first_name.ljust(10) }}|{{ '7'.zfill(3) }}",
    "{{ ('Dear ' ~ customer.first_name ~ ', ' ~ store.name)|wordwrap(12) }}",
    "{{ 'one\ntwo'|indent(2, true) }} {{ 'a-b-c'|replace('-', ' + ') }} {{ 'a\tb'.expandtabs(4) }}",
    "{{ (customer.points_balance * 1024)|filesizeformat }} {{ 2 ** 10 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ -3 + 10 }}",
    ("{% macro line(label, value) %}{{ label }}: {{ value }}{% endmacro %}{{ line('Code', discount_code) }} "
     "{{ line('Points', customer.points_balance) }}"),
    "{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}{{ store.name }}{% endcall %}",
    ("{% set ns = namespace(total=0) %}{% for t in customer.tags %}{% set ns.total = ns.total + t|length %}"
     "{% endfor %}{{ ns.total }}"),
    ("{% set greeting %}Hello {{ customer.first_name }}{% endset %}{{ greeting|trim }} "
     "{% filter upper %}{{ store.name }}{% endfilter %}"),
    ("{{ {'a': 1, 'b': [customer.first_name, 2]}|tojson }} {{ customer.tags }} {{ customer.tags|pprint }} "
     "{{ dict(a=customer.first_name)|dictsort }}"),
    ("{{ customer.email|urlize }} {{ '<b>x</b>'|striptags }} {{ customer.first_name|truncate(3, true, '') }} "
     "{{ customer.tags|batch(1)|list }} {{ customer.tags|slice(2)|list }} {{ '<a>'|e }}"),
    "{% if unsubscribe_url %}<a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>{% endif %}",
]


@pytest.mark.parametrize("source", EVERYDAY)
@pytest.mark.parametrize("part", ["body_text", "body_html"])
def test_everyday_templates_render_as_plain_jinja_does(source, part, context):
    expected = _plain(part).from_string(source).render(**context).strip()
    assert getattr(templating.render({part: source}, context), part) == expected


@pytest.mark.parametrize("type_", catalog.TEMPLATE_TYPES)
def test_system_templates_render_as_plain_jinja_does(type_):
    template = templating.system_template(type_)
    context = templating.sample_context(type_)
    rendered = templating.render({p: template[p] for p in templating.PARTS}, context)
    for part in (p for p in templating.PARTS if template[p] is not None):  # no body_html: one body
        expected = _plain(part).from_string(template[part]).render(**context).strip()
        assert getattr(rendered, part) == expected, (type_, part)
