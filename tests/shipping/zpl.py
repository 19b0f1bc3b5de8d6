"""A small ZPL II parser for the tests: splits a label into commands, checks their arguments against the
ZPL II programming guide for the commands our labels use, that fields are closed, that every field lies
inside the print width and label length, and returns the texts and barcodes."""

import re
from dataclasses import dataclass, field

# command -> regular expression of its arguments (ZPL II Programming Guide, Zebra).
COMMANDS = {
    "XA": r"",
    "XZ": r"",
    "CI": r"\d{1,2}",  # character set (28 = UTF-8)
    "PW": r"\d{1,4}",  # print width, dots
    "LL": r"\d{1,5}",  # label length, dots
    "FO": r"\d{1,5},\d{1,5}(,[012])?",  # field origin x,y
    "A0": r"[NRIB],\d{1,5},\d{1,5}",  # scalable font: orientation, height, width
    "GB": r"\d{1,5},\d{1,5},\d{1,5}(,[BW])?(,\d)?",  # graphic box: width, height, thickness
    "BY": r"\d{1,2}(,[\d.]+)?(,\d+)?",  # bar code defaults: module width
    "BC": r"[NRIB],\d{1,5},[YN],[YN],[YN](,[NUAD])?",  # Code 128: orientation, height, line, above, check
    "FD": None,  # field data, up to ^FS
    "FS": r"",
}


class ZplError(AssertionError):
    pass


@dataclass
class ZplLabel:
    width: int = 0
    length: int = 0
    texts: list[str] = field(default_factory=list)
    barcodes: list[str] = field(default_factory=list)
    origins: list[tuple[int, int]] = field(default_factory=list)


def parse(zpl: str) -> list[ZplLabel]:
    labels: list[ZplLabel] = []
    current: ZplLabel | None = None
    pending_barcode = False
    tokens = re.split(r"\^", zpl)
    if tokens[0].strip():
        raise ZplError(f"text before the first command: {tokens[0]!r}")
    i = 1
    while i < len(tokens):
        token = tokens[i].rstrip("\r\n")
        name, args = token[:2], token[2:]
        if name not in COMMANDS:
            raise ZplError(f"unknown command ^{name}")
        if name == "XA":
            if current is not None:
                raise ZplError("^XA inside a label")
            current = ZplLabel()
        elif current is None:
            raise ZplError(f"^{name} outside ^XA … ^XZ")
        elif name == "XZ":
            labels.append(current)
            current = None
        elif name == "FD":
            if i + 1 >= len(tokens) or tokens[i + 1][:2] != "FS":
                raise ZplError(f"^FD{args!r} not closed by ^FS")
            (current.barcodes if pending_barcode else current.texts).append(args)
            pending_barcode = False
        else:
            if not re.fullmatch(COMMANDS[name], args.strip()):
                raise ZplError(f"bad arguments for ^{name}: {args!r}")
            if name == "PW":
                current.width = int(args)
            elif name == "LL":
                current.length = int(args)
            elif name == "FO":
                x, y = (int(v) for v in args.split(",")[:2])
                if current.width and x >= current.width or current.length and y >= current.length:
                    raise ZplError(f"^FO{args} outside the label ({current.width} × {current.length})")
                current.origins.append((x, y))
            elif name == "BC":
                pending_barcode = True
        i += 1
    if current is not None:
        raise ZplError("label not closed by ^XZ")
    if not labels:
        raise ZplError("no label")
    return labels
