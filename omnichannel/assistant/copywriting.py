"""Copy variants for message templates: subject lines, preview text, body and SMS.

A model writes the variants in the brand voice and language when one is configured.
Without one, or when the model fails, simple rewrites of the current text are
offered and labelled as such. Every variant is checked before it can be used: it
must compile as a template, use only known variables, fit the field, carry the
unsubscribe text in a marketing email body, and fit the SMS segment limit in its
encoding.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.template.exceptions import TemplateSyntaxError
from django.utils import timezone
from django.utils.text import slugify

from omnichannel.assistant.client import get_client
from omnichannel.assistant.exceptions import AssistantError, InvalidRequest
from omnichannel.assistant.privacy import mask_text
from omnichannel.assistant.settings import setting
from omnichannel.channels import gsm
from omnichannel.channels.compose import has_opt_out
from omnichannel.channels.models import MessageChannel, MessageTemplate
from omnichannel.channels.rendering import PROFILE_FIELDS, compile_source
from omnichannel.conf import app_settings
from omnichannel.consent.models import Purpose
from omnichannel.experiments.models import Experiment, Variant

logger = logging.getLogger(__name__)

# Kind of copy -> the MessageTemplate field it replaces.
KIND_FIELDS = {
    "subject": "subject",
    "preheader": "preheader",
    "body": "body",
    "sms": "body",
}
#: The kinds in a stable order, as the API's choices.
COPY_KINDS = tuple(sorted(KIND_FIELDS))
KIND_LABELS = {
    "subject": "email subject line",
    "preheader": "email preview text (shown after the subject in inboxes)",
    "body": "message body",
    "sms": "SMS text",
}
# The primary metric of an A/B test on each kind of copy.
KIND_METRICS = {
    "subject": Experiment.Metric.OPEN_RATE,
    "preheader": Experiment.Metric.OPEN_RATE,
    "body": Experiment.Metric.CLICK_RATE,
    "sms": Experiment.Metric.CLICK_RATE,
}
# Longest text, in characters, of the one-line kinds (the model fields allow 300;
# inboxes cut subject lines near 60 to 80 characters).
MAX_LENGTHS = {"subject": 150, "preheader": 200}

BUILTIN_NAMES = {
    "first_name",
    "last_name",
    "profile",
    "segments",
    "recommendations",
    "site_url",
    "unsubscribe_url",
    "preferences_url",
    "forloop",
    "block",
    "True",
    "False",
    "None",
}
PROFILE_ATTRIBUTES = set(PROFILE_FIELDS) | {"full_name", "attributes", "tags", "id"}
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_]\w*)((?:\.\w+)*)")
_TAG = re.compile(r"\{%\s*(\w+)\s+(.*?)%\}", re.S)
_FOR = re.compile(r"^\s*([\w\s,]+?)\s+in\s+(.+?)(?:\s+reversed)?\s*$", re.S)
_WORD = re.compile(r"(?<![\w.'\"])([A-Za-z_]\w*)((?:\.\w+)*)")
TAG_OPERATORS = {"and", "or", "not", "in", "is", "as", "with", "only", "reversed"}


@dataclass
class CheckedVariant:
    """A variant's text and what its checks found; ``problems`` block its use."""

    text: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sms: gsm.SMSInfo | None = None

    @property
    def usable(self) -> bool:
        return not self.problems


@dataclass
class VariantSet:
    """Variants of one kind of copy for one template, and who wrote them."""

    kind: str
    variants: list[CheckedVariant]
    written_by_model: bool
    notice: str = ""


def kinds_for(template: MessageTemplate) -> list[str]:
    """Return the kinds of copy that make sense for ``template``'s channel."""
    if template.channel == MessageChannel.EMAIL:
        return ["subject", "preheader", "body"]
    if template.channel == MessageChannel.SMS:
        return ["sms"]
    return ["body"]


def _check_kind(template: MessageTemplate, kind: str) -> None:
    if kind not in kinds_for(template):
        raise InvalidRequest(
            "kind",
            f"{kind!r} is not a kind of copy for a {template.channel} template; "
            f"choose one of {', '.join(kinds_for(template))}.",
        )


def template_variables(source: str) -> list[tuple[str, str]]:
    """Return the (name, attribute path) of each variable ``source`` reads.

    Loop variables of ``{% for %}`` and names bound by ``{% with %}`` are left out.
    """
    bound: set[str] = set()
    found: list[tuple[str, str]] = []
    for tag, arguments in _TAG.findall(source):
        if tag == "for":
            match = _FOR.match(arguments)
            if match:
                bound.update(n.strip() for n in match.group(1).split(","))
                found += _words(match.group(2))
            continue
        if tag == "with":
            for part in arguments.split():
                if "=" in part:
                    name, _sep, value = part.partition("=")
                    bound.add(name)
                    found += _words(value)
            continue
        if tag in ("if", "elif"):
            found += _words(arguments)
    found += [(name, path) for name, path in _VARIABLE.findall(source)]
    return [(name, path) for name, path in found if name not in bound]


def _words(expression: str) -> list[tuple[str, str]]:
    without_strings = re.sub(r"(\"[^\"]*\"|'[^']*')", " ", expression)
    return [
        (name, path)
        for name, path in _WORD.findall(without_strings)
        if name not in TAG_OPERATORS
    ]


def unknown_variables(source: str, allowed_extra: set[str]) -> list[str]:
    """Return the variables of ``source`` that no recipient's context provides."""
    unknown = []
    for name, path in template_variables(source):
        if name in BUILTIN_NAMES or name in allowed_extra:
            if name == "profile" and path:
                attribute = path.split(".")[1]
                if attribute not in PROFILE_ATTRIBUTES:
                    unknown.append(f"profile.{attribute}")
            continue
        unknown.append(name + path)
    return sorted(set(unknown))


def check_variant(
    template: MessageTemplate, kind: str, text: str, *, allowed_extra: set[str]
) -> CheckedVariant:
    """Check one variant for use in ``template``; see the module docstring."""
    checked = CheckedVariant(text=text)
    if not text.strip():
        checked.problems.append("The variant is empty.")
        return checked

    _check_template(template, kind, checked, allowed_extra)
    _check_length(kind, checked)
    marketing = template.purpose == Purpose.MARKETING
    if kind == "body" and template.channel == "email" and marketing:
        _check_unsubscribe(checked)
    if kind == "sms":
        _check_sms(template, checked, marketing)
    return checked


def _check_template(
    template: MessageTemplate,
    kind: str,
    checked: CheckedVariant,
    allowed_extra: set[str],
) -> None:
    html = kind == "body" and template.channel in ("email", "onsite")
    try:
        compile_source(checked.text, html)
    except TemplateSyntaxError as error:
        checked.problems.append(f"The template language rejects it: {error}")

    unknown = unknown_variables(checked.text, allowed_extra)
    if unknown:
        checked.problems.append(
            "Unknown template variables: " + ", ".join(unknown) + ". Use first_name, "
            "profile.<field>, site_url or a variable the template already uses."
        )


def _check_length(kind: str, checked: CheckedVariant) -> None:
    limit = MAX_LENGTHS.get(kind)
    if limit and len(checked.text) > limit:
        checked.problems.append(
            f"{len(checked.text)} characters; the limit is {limit}."
        )
    if kind in ("subject", "preheader") and "\n" in checked.text.strip():
        checked.problems.append("A subject line or preview text must be one line.")


def _check_unsubscribe(checked: CheckedVariant) -> None:
    """Check that a body placing its own unsubscribe link labels it.

    A body without ``{{ unsubscribe_url }}`` gets the footer with the link when it
    is sent, so it passes.
    """
    if "unsubscribe_url" not in checked.text:
        return
    required = str(setting("UNSUBSCRIBE_TEXT"))
    label = checked.text.replace("unsubscribe_url", "")
    if required.casefold() not in label.casefold():
        checked.problems.append(
            f"A marketing email body that places {{{{ unsubscribe_url }}}} must "
            f"label the link with the text {required!r}."
        )


def _check_sms(
    template: MessageTemplate, checked: CheckedVariant, marketing: bool
) -> None:
    # Sent as the recipient would get it: the opt-out line is added to marketing
    # SMS that lack one, so it counts towards the segments.
    text = checked.text.strip()
    if marketing and not has_opt_out(text):
        text = f"{text}\n{app_settings.SMS_STOP_TEXT}"
        checked.notes.append(f"{app_settings.SMS_STOP_TEXT!r} is added when sent.")
    info = gsm.sms_info(text)
    checked.sms = info
    limit = template.sms_max_segments or int(setting("SMS_MAX_SEGMENTS"))
    if info.segments > limit:
        hint = ""
        if info.encoding == gsm.UCS2:
            hint = " It is UCS-2 because of characters outside GSM-7; removing them "
            hint += "allows 160 characters per segment."
        checked.problems.append(
            f"{info.segments} SMS segments ({info.units} {info.encoding} units); the "
            f"limit is {limit}.{hint}"
        )


def allowed_variables(template: MessageTemplate) -> set[str]:
    """Return names the template already reads beyond the built-in ones.

    They come from the deliveries' context (an offer code, a cart link), so a
    variant may use them too.
    """
    names: set[str] = set()
    for name in ("subject", "preheader", "body", "text_body", "url"):
        names.update(n for n, _path in template_variables(getattr(template, name)))
    return names


def generate_variants(
    template: MessageTemplate, kind: str, *, count: int | None = None, brief: str = ""
) -> VariantSet:
    """Write and check ``count`` variants of ``kind`` for ``template``."""
    _check_kind(template, kind)
    count = int(count or setting("VARIANT_COUNT"))
    if not 1 <= count <= 10:
        raise InvalidRequest("count", f"{count} variants requested; ask for 1 to 10.")
    if len(brief) > 1000:
        raise InvalidRequest("brief", "The brief is longer than 1000 characters.")

    allowed = allowed_variables(template)
    client = get_client()
    notice = ""
    texts: list[str] = []
    written_by_model = False
    if client is None:
        notice = "No model is configured: these are rewrites of the current text."
    else:
        try:
            texts = _model_variants(client, template, kind, count, brief, allowed)
            written_by_model = True
        except AssistantError as error:
            logger.warning(
                "copy variants for template %s fell back: %s", template.pk, error
            )
            notice = f"The model could not write variants ({error}); these are "
            notice += "rewrites of the current text."
    if not texts:
        texts = fallback_variants(template, kind, count)
    variants = [
        check_variant(template, kind, text, allowed_extra=allowed) for text in texts
    ]
    return VariantSet(
        kind=kind, variants=variants, written_by_model=written_by_model, notice=notice
    )


def _model_variants(
    client: Any,
    template: MessageTemplate,
    kind: str,
    count: int,
    brief: str,
    allowed: set[str],
) -> list[str]:
    current = getattr(template, KIND_FIELDS[kind]) or ""
    names = sorted({"first_name", "site_url"} | allowed)
    rules = [
        f"Write {count} different variants of the {KIND_LABELS[kind]} of a "
        f"{template.get_channel_display()} message.",
        f"Language: {setting('LANGUAGE')}.",
        "Keep Django template variables as they are; you may use only these: "
        + ", ".join(f"{{{{ {name} }}}}" for name in names)
        + ". Invent no discount, price, date or code that is not in the current text.",
        'Answer with JSON only: {"variants": ["...", "..."]}.',
    ]
    if setting("BRAND_VOICE"):
        rules.insert(1, f"Brand voice: {setting('BRAND_VOICE')}")
    if kind == "sms":
        limit = template.sms_max_segments or int(setting("SMS_MAX_SEGMENTS"))
        characters = 160 if limit == 1 else 153 * limit
        rules.append(
            f"Each SMS must fit {limit} segment(s): {characters} GSM-7 "
            "characters; avoid emoji and curly quotes."
        )
    if (
        kind == "body"
        and template.channel == "email"
        and template.purpose == "marketing"
    ):
        rules.append(
            "Leave out any unsubscribe link: it is added below each body. If a "
            "body places {{ unsubscribe_url }}, label the link with the text "
            f"{setting('UNSUBSCRIBE_TEXT')!r}."
        )
    if kind in MAX_LENGTHS:
        rules.append(f"At most {MAX_LENGTHS[kind]} characters, one line.")
    user = f"Template name: {template.name}\nCurrent text:\n{mask_text(current)}"
    if brief:
        user += f"\nWhat the marketer wants: {mask_text(brief)}"
    completion = client.complete(
        [
            {"role": "system", "content": "\n".join(rules)},
            {"role": "user", "content": user},
        ],
        feature=f"copy_{kind}",
    )
    return parse_variant_list(completion.text, count)


def parse_variant_list(text: str, count: int) -> list[str]:
    """Read ``{"variants": [...]}`` from a model's response, allowing code fences."""
    from omnichannel.assistant.exceptions import InvalidModelResponse

    cleaned = text.strip()
    if cleaned.startswith("```"):
        cleaned = cleaned.strip("`")
        cleaned = cleaned.split("\n", 1)[1] if "\n" in cleaned else cleaned
    start, end = cleaned.find("{"), cleaned.rfind("}")
    try:
        data = json.loads(cleaned[start : end + 1]) if start >= 0 else None
    except ValueError:
        data = None
    variants = data.get("variants") if isinstance(data, dict) else None
    if not isinstance(variants, list) or not variants:
        raise InvalidModelResponse(
            "The model's response is not the JSON "
            '{"variants": [...]} it was asked for.'
        )
    texts = [str(item).strip() for item in variants if str(item).strip()]
    return list(dict.fromkeys(texts))[:count]


def fallback_variants(template: MessageTemplate, kind: str, count: int) -> list[str]:
    """Return rewrites of the current text that need no model."""
    current = (getattr(template, KIND_FIELDS[kind]) or "").strip()
    if not current:
        return []
    candidates: list[str] = []
    if kind in ("subject", "preheader"):
        lowered = current[:1].lower() + current[1:]
        candidates += [
            "{% if first_name %}{{ first_name }}, {% endif %}" + lowered,
            _shorten(current, 45),
            current.rstrip(".!") + "?" if not current.endswith("?") else current,
        ]
    elif kind == "sms":
        candidates += [
            gsm.transliterate(current),
            "{% if first_name %}{{ first_name }}: {% endif %}"
            + gsm.transliterate(current),
            _shorten(gsm.transliterate(current), 120),
        ]
    else:
        greeting = "{% if first_name %}Hi {{ first_name }},{% else %}Hi,{% endif %}"
        separator = (
            "<p>" + greeting + "</p>\n"
            if template.channel == "email"
            else greeting + "\n"
        )
        candidates += [separator + current]
    unique = [c for c in dict.fromkeys(candidates) if c and c != current]
    return unique[:count]


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:- ")
    return cut + "..."


@transaction.atomic
def create_experiment(
    template: MessageTemplate, kind: str, texts: list[str], *, created_by: str = ""
) -> Experiment:
    """Turn chosen variants into a draft A/B test of ``template``.

    The template's current text is the control; each chosen text becomes a
    variant whose payload names the field it replaces. Every text is checked
    again, so a variant changed after it was shown cannot slip through.
    """
    _check_kind(template, kind)
    texts = [t for t in dict.fromkeys(t.strip() for t in texts) if t]
    if not texts:
        raise InvalidRequest("variants", "Choose at least one variant to test.")
    allowed = allowed_variables(template)
    for index, text in enumerate(texts, 1):
        checked = check_variant(template, kind, text, allowed_extra=allowed)
        if checked.problems:
            raise InvalidRequest(
                "variants",
                f"Variant {index} cannot be used: {' '.join(checked.problems)}",
            )
    field_name = KIND_FIELDS[kind]
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    key = f"{slugify(template.slug)[:60]}-{kind}-{stamp}"
    suffix = 1
    while Experiment.objects.filter(key=key).exists():
        suffix += 1
        key = f"{slugify(template.slug)[:60]}-{kind}-{stamp}-{suffix}"
    experiment = Experiment.objects.create(
        key=key,
        name=f"{template.name}: {kind} ({len(texts)} variants)"[:200],
        description=(
            f"Variants of the {KIND_LABELS[kind]}, created by "
            f"{created_by or 'the assistant'}."
        ),
        target=Experiment.Target.MESSAGE,
        target_ref=template.slug,
        metric=KIND_METRICS[kind],
    )
    Variant.objects.create(
        experiment=experiment,
        key="control",
        name="Current text",
        is_control=True,
        payload={field_name: getattr(template, field_name), "template": template.slug},
    )
    for index, text in enumerate(texts, 1):
        Variant.objects.create(
            experiment=experiment,
            key=f"variant-{index}",
            name=_shorten(" ".join(text.split()), 60),
            payload={field_name: text, "template": template.slug},
        )
    logger.info(
        "created experiment %s with %d variants of template %s",
        key,
        len(texts),
        template.pk,
    )
    return experiment
