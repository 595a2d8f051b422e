"""Suggestions while a user types a slash command option: arXiv categories, time zones, languages.

Discord shows at most 25 choices, each name and value at most 100 characters. A category option
can hold several categories ("cs.CL cs.LG" or "cs.AI+cs.LG-cs.CY"): only the last one is being
typed, so suggestions keep everything before it and complete that one.
"""

from __future__ import annotations

import functools
import re
import zoneinfo

from digest.taxonomy import load_taxonomy

__all__ = ["LANGUAGES", "MAX_CHOICES", "category_choices", "language_choices", "suggest", "timezone_choices"]

MAX_CHOICES = 25
MAX_CHOICE_CHARS = 100

# Languages the LLM answers in well; the code is what /language stores.
LANGUAGES: dict[str, str] = {
    "en": "English", "zh": "Chinese (中文)", "es": "Spanish (Español)", "de": "German (Deutsch)",
    "fr": "French (Français)", "ja": "Japanese (日本語)", "ko": "Korean (한국어)", "pt": "Portuguese (Português)",
    "ru": "Russian (Русский)", "it": "Italian (Italiano)", "nl": "Dutch (Nederlands)", "pl": "Polish (Polski)",
    "tr": "Turkish (Türkçe)", "uk": "Ukrainian (Українська)", "ar": "Arabic (العربية)", "hi": "Hindi (हिन्दी)",
    "fa": "Persian (فارسی)", "he": "Hebrew (עברית)", "id": "Indonesian (Bahasa Indonesia)",
    "vi": "Vietnamese (Tiếng Việt)",
    "sv": "Swedish (Svenska)", "cs": "Czech (Čeština)", "el": "Greek (Ελληνικά)",
}

def suggest(kind: str | None, current: str) -> list[tuple[str, str]]:
    """(name, value) choices for a parameter's `complete` kind; nothing for unknown kinds."""
    if kind == "category":
        return category_choices(current)
    if kind == "timezone":
        return timezone_choices(current)
    if kind == "language":
        return language_choices(current)
    return []


def category_choices(current: str) -> list[tuple[str, str]]:
    """Completions of the category being typed, keeping the ones already typed before it."""
    head, last = _split_last(current)
    taxonomy = load_taxonomy()
    found = taxonomy.search(last, limit=MAX_CHOICES) if last else taxonomy.popular_categories()[:MAX_CHOICES]
    choices = []
    for category in found:
        value = head + category.id
        if len(value) > MAX_CHOICE_CHARS:
            continue
        choices.append((_clip(f"{value} — {category.name}"), value))
    return choices


def _split_last(current: str) -> tuple[str, str]:
    """("cs.AI+", "cs.L") for "cs.AI+cs.L"; the operator or space before the last term stays in the head."""
    cut = max(current.rfind(sep) for sep in (" ", "+", ",", "-"))
    # A '-' inside an id (hep-th, math-ph) is not an operator: only split on it before a letter run
    # that does not continue an archive name.
    if cut >= 0 and current[cut] == "-" and _inside_id(current, cut):
        cut = max(current.rfind(sep, 0, cut) for sep in (" ", "+", ","))
    return current[: cut + 1], current[cut + 1:]


def _inside_id(text: str, dash: int) -> bool:
    before = re.search(r"[A-Za-z]+$", text[:dash])
    archives_with_dashes = {"hep", "math", "nucl", "astro", "cond", "quant", "gr", "nlin", "q"}
    return bool(before) and before.group(0).lower() in archives_with_dashes


@functools.lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))


def timezone_choices(current: str) -> list[tuple[str, str]]:
    """IANA zones containing what was typed (prefix matches of the city first)."""
    typed = current.strip().replace(" ", "_").lower()
    zones = _zones()
    if not typed:
        picks = [z for z in ("UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
                             "Asia/Shanghai", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney") if z in zones]
        return [(z, z) for z in picks]
    matches = [z for z in zones if typed in z.lower()]
    matches.sort(key=lambda z: (not z.lower().rsplit("/", 1)[-1].startswith(typed), not z.lower().startswith(typed), z))
    return [(z, z) for z in matches[:MAX_CHOICES]]


def language_choices(current: str) -> list[tuple[str, str]]:
    """Language codes whose code or name contains what was typed."""
    typed = current.strip().lower()
    return [
        (_clip(f"{code} — {name}"), code)
        for code, name in LANGUAGES.items()
        if not typed or code.startswith(typed) or typed in name.lower()
    ][:MAX_CHOICES]


def _clip(text: str) -> str:
    return text if len(text) <= MAX_CHOICE_CHARS else text[: MAX_CHOICE_CHARS - 1] + "…"
