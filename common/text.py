"""Text that no field may hold. A NUL character cannot be stored by PostgreSQL (psycopg refuses it), and a
lone UTF-16 surrogate (JSON ``"\\ud800"``) is not a character at all: it cannot be encoded to UTF-8, so
neither the database nor the JSON renderer can take it. Every edge refuses both before anything runs."""

import re

_BAD = re.compile("[\x00\ud800-\udfff]")


def bad_character(text: str) -> str | None:
    """What is wrong with ``text`` ("a NUL character", "a lone UTF-16 surrogate"), or None when it is fine."""
    found = _BAD.search(text)
    if found is None:
        return None
    return "a NUL character" if found.group() == "\x00" else "a lone UTF-16 surrogate"


def find_bad_text(data, path: str = "") -> tuple[str, str] | None:
    """The first string (a value or an object key) in decoded JSON ``data`` that holds a NUL character or a
    lone surrogate: ``(path, what)``, the path written ``delivery.address.line1`` / ``lines[0].sku``;
    None when every string is fine. Iterative: a deep document cannot exhaust the stack."""
    stack = [(data, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            what = bad_character(value)
            if what:
                return where or "(body)", what
        elif isinstance(value, dict):
            items = []
            for key, item in value.items():
                key_text = str(key)
                child = f"{where}.{key_text}" if where else key_text
                what = bad_character(key_text)
                if what:
                    return safe_text(child), what
                items.append((item, child))
            stack.extend(reversed(items))
        elif isinstance(value, list | tuple):
            stack.extend(reversed([(item, f"{where}[{i}]") for i, item in enumerate(value)]))
    return None


def safe_text(text: str) -> str:
    """``text`` with every NUL and lone surrogate replaced by U+FFFD, so it can be shown, logged or stored."""
    return _BAD.sub("\ufffd", text)


def safe_data(data):
    """A copy of JSON-like ``data`` where every string (keys too) went through ``safe_text``."""
    if isinstance(data, str):
        return safe_text(data)
    if isinstance(data, dict):
        return {safe_data(k) if isinstance(k, str) else k: safe_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [safe_data(v) for v in data]
    return data
