"""A reader for the subset of Alloy syntax a config uses: blocks, attributes, literals, lists,
objects, references and calls (operators are read but not evaluated).

Written by hand because no Alloy parser exists on PyPI; `airscope check` uses it on config.alloy.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field


class AlloySyntaxError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")


@dataclass(frozen=True)
class Reference:
    path: str
    line: int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple


@dataclass(frozen=True)
class Attribute:
    name: str
    value: object
    line: int


@dataclass
class AlloyBlock:
    name: str
    label: str | None
    line: int
    body: list = field(default_factory=list)

    def attributes(self) -> dict:
        return {item.name: item.value for item in self.body if isinstance(item, Attribute)}

    def blocks(self, name: str) -> list[AlloyBlock]:
        return [item for item in self.body if isinstance(item, AlloyBlock) and item.name == name]


_TOKEN = re.compile(
    r"""(?P<newline>\n)|(?P<space>[ \t\r]+)|(?P<comment>//[^\n]*|/\*.*?\*/)
    |(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<raw>`[^`]*`)
    |(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<punct>==|!=|<=|>=|&&|\|\||[{}\[\]()=,.+\-*/%^<>!?:])""",
    re.VERBOSE | re.DOTALL,
)
_BINARY = {"==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "^", "<", ">"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    line: int


def _tokens(text: str) -> list[_Token]:
    tokens, pos, line = [], 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            if text[pos] == '"':
                raise AlloySyntaxError(line, "a string is never closed on its line")
            if text.startswith("/*", pos):
                raise AlloySyntaxError(line, "a /* comment is never closed")
            if text[pos] == "`":
                raise AlloySyntaxError(line, "a `raw string` is never closed")
            raise AlloySyntaxError(line, f"unexpected character {text[pos]!r}")
        kind, value = match.lastgroup, match.group()
        if kind not in ("space", "comment"):
            tokens.append(_Token(kind, value, line))
        line += value.count("\n")
        pos = match.end()
    tokens.append(_Token("eof", "", line))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def skip_newlines(self) -> None:
        while self.peek().kind == "newline":
            self.at += 1

    def expect(self, text: str) -> _Token:
        token = self.take()
        if token.text != text:
            raise AlloySyntaxError(token.line, f"expected `{text}`, found `{token.text or 'end of file'}`")
        return token

    def dotted(self, first: _Token) -> str:
        parts = [first.text]
        while self.peek().text == "." and self.tokens[self.at + 1].kind == "ident":
            self.at += 1
            parts.append(self.take().text)
        return ".".join(parts)

    def body(self, opened: _Token | None) -> list:
        items: list = []
        while True:
            self.skip_newlines()
            token = self.take()
            if token.kind == "eof":
                if opened:
                    raise AlloySyntaxError(
                        opened.line, f"the block `{opened.text}` opened here is never closed"
                    )
                return items
            if token.text == "}":
                if not opened:
                    raise AlloySyntaxError(token.line, "a `}` closes no block")
                return items
            if token.kind != "ident":
                raise AlloySyntaxError(token.line, f"expected an attribute or a block, found `{token.text}`")
            name = self.dotted(token)
            following = self.peek()
            if following.text == "=" and "." not in name:
                self.take()
                items.append(Attribute(name, self.expression(), token.line))
                if self.peek().kind not in ("newline", "eof") and self.peek().text != "}":
                    raise AlloySyntaxError(
                        self.peek().line, f"unexpected `{self.peek().text}` after `{name}`"
                    )
            elif following.kind in ("string", "raw") or following.text == "{":
                label = _string(self.take()) if following.text != "{" else None
                brace = self.expect("{")
                block = AlloyBlock(name, label, token.line)
                block.body = self.body(_Token("block", name, brace.line))
                items.append(block)
            else:
                raise AlloySyntaxError(
                    following.line, f"`{name}` is followed by `{following.text}`, not = or {{"
                )

    def expression(self):
        value = self.unary()
        while self.peek().text in _BINARY:
            self.take()
            value = Call("operator", (value, self.unary()))
        return value

    def unary(self):
        if self.peek().text in ("!", "-"):
            self.take()
            return Call("operator", (self.unary(),))
        return self.primary()

    def primary(self):
        token = self.take()
        if token.kind in ("string", "raw"):
            return _string(token)
        if token.kind == "number":
            return float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
        if token.text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token.text]
        if token.kind == "ident":
            name = self.dotted(token)
            if self.peek().text == "(":
                return Call(name, tuple(self.sequence("(", ")")))
            # An index or a field of an export (`x.y.z.targets[0].foo`) still refers to that export.
            while self.peek().text == "[" or (
                self.peek().text == "." and self.tokens[self.at + 1].kind == "ident"
            ):
                if self.peek().text == "[":
                    self.sequence("[", "]")
                else:
                    self.at += 2
            return Reference(name, token.line)
        if token.text == "[":
            self.at -= 1
            return self.sequence("[", "]")
        if token.text == "{":
            return self.object(token)
        if token.text == "(":
            value = self.expression()
            self.expect(")")
            return value
        raise AlloySyntaxError(token.line, f"expected a value, found `{token.text or 'end of file'}`")

    def sequence(self, opening: str, closing: str) -> list:
        start = self.expect(opening)
        values = []
        while True:
            self.skip_newlines()
            if self.peek().text == closing:
                self.take()
                return values
            if self.peek().kind == "eof":
                raise AlloySyntaxError(start.line, f"the `{opening}` opened here is never closed")
            values.append(self.expression())
            self.skip_newlines()
            if self.peek().text == ",":
                self.take()
            elif self.peek().text != closing and self.peek().kind != "eof":
                raise AlloySyntaxError(
                    self.peek().line, f"expected `,` or `{closing}`, found `{self.peek().text}`"
                )

    def object(self, start: _Token) -> dict:
        values = {}
        while True:
            self.skip_newlines()
            token = self.take()
            if token.text == "}":
                return values
            if token.kind == "eof":
                raise AlloySyntaxError(start.line, "the `{` opened here is never closed")
            if token.kind not in ("ident", "string"):
                raise AlloySyntaxError(token.line, f"expected an object key, found `{token.text}`")
            key = _string(token) if token.kind == "string" else token.text
            self.expect("=")
            values[key] = self.expression()
            self.skip_newlines()
            if self.peek().text == ",":
                self.take()
            elif self.peek().text != "}" and self.peek().kind != "eof":
                raise AlloySyntaxError(self.peek().line, f"expected `,` or `}}`, found `{self.peek().text}`")


def _string(token: _Token) -> str:
    if token.kind == "raw":
        return token.text[1:-1]
    return ast.literal_eval(token.text)  # Go's escapes, which Alloy uses, read the same in Python


def parse_alloy(text: str) -> list:
    """The file's top-level attributes and blocks; raises AlloySyntaxError."""
    return _Parser(text).body(None)
