"""A QR code of a short text (a pairing URL), for a terminal: byte mode, error
correction level M, versions 1-10 (up to 213 bytes), the mask with the lowest penalty.

A few dozen lines of the standard (ISO/IEC 18004) rather than a dependency the daemon
would carry for one command's output.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

# Level M, versions 1-10: (EC codewords per block, ((blocks, data codewords), ...)).
_BLOCKS = {
    1: (10, ((1, 16),)),
    2: (16, ((1, 28),)),
    3: (26, ((1, 44),)),
    4: (18, ((2, 32),)),
    5: (24, ((2, 43),)),
    6: (16, ((4, 27),)),
    7: (18, ((4, 31),)),
    8: (22, ((2, 38), (2, 39))),
    9: (22, ((3, 36), (2, 37))),
    10: (26, ((4, 43), (1, 44))),
}
_ALIGN = {1: [], 2: [6, 18], 3: [6, 22], 4: [6, 26], 5: [6, 30], 6: [6, 34]}
_ALIGN |= {7: [6, 22, 38], 8: [6, 24, 42], 9: [6, 26, 46], 10: [6, 28, 50]}
_LEVEL_M = 0b00

# GF(256) with the polynomial 0x11D.
_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i], _LOG[_x] = _x, _i
    _x = (_x << 1) ^ (0x11D if _x & 0x80 else 0)
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _ec(data: list[int], degree: int) -> list[int]:
    gen = [1]
    for i in range(degree):
        gen = [a ^ _mul(b, _EXP[i]) for a, b in zip([*gen, 0], [0, *gen], strict=True)]
    rem = [0] * degree
    for byte in data:
        factor = byte ^ rem[0]
        rem = [*rem[1:], 0]
        for j in range(degree):
            rem[j] ^= _mul(gen[j + 1], factor)
    return rem


def _bch(value: int, poly: int, bits: int) -> int:
    rem = value << bits
    top = poly.bit_length() - 1
    while rem.bit_length() > top:
        rem ^= poly << (rem.bit_length() - 1 - top)
    return (value << bits) | rem


def _codewords(data: bytes) -> tuple[int, list[int]]:
    for version, (_, groups) in _BLOCKS.items():
        capacity = sum(n * k for n, k in groups)
        count_bits = 8 if version < 10 else 16
        if 4 + count_bits + 8 * len(data) <= capacity * 8:
            break
    else:
        raise ValueError(f"{len(data)} bytes is too long for a QR code here")
    ec_len = _BLOCKS[version][0]
    bits = [0, 1, 0, 0] + [(len(data) >> i) & 1 for i in reversed(range(count_bits))]
    bits += [(b >> i) & 1 for b in data for i in reversed(range(8))]
    bits += [0] * min(4, capacity * 8 - len(bits))
    bits += [0] * (-len(bits) % 8)
    words = [int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8)]
    words += [(0xEC, 0x11)[i % 2] for i in range(capacity - len(words))]
    blocks, at = [], 0
    for n, k in groups:
        for _ in range(n):
            blocks.append(words[at : at + k])
            at += k
    ecs = [_ec(block, ec_len) for block in blocks]
    out = [b[i] for i in range(max(map(len, blocks))) for b in blocks if i < len(b)]
    out += [e[i] for i in range(ec_len) for e in ecs]
    return version, out


_MASKS: list[Callable[[int, int], bool]] = [
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: r * c % 2 + r * c % 3 == 0,
    lambda r, c: (r * c % 2 + r * c % 3) % 2 == 0,
    lambda r, c: ((r + c) % 2 + r * c % 3) % 2 == 0,
]


def encode(text: str) -> list[list[bool]]:
    """The QR matrix of ``text`` (True: a dark module), without its quiet zone."""
    version, words = _codewords(text.encode())
    size = 17 + 4 * version
    grid = [[False] * size for _ in range(size)]
    fixed = [[False] * size for _ in range(size)]

    def put(r: int, c: int, dark: bool) -> None:
        grid[r][c], fixed[r][c] = dark, True

    for r0, c0 in ((0, 0), (0, size - 7), (size - 7, 0)):
        for r in range(-1, 8):
            for c in range(-1, 8):
                if 0 <= r0 + r < size and 0 <= c0 + c < size:
                    ring = max(abs(r - 3), abs(c - 3))
                    put(r0 + r, c0 + c, ring != 2 and ring != 4)
    for i in range(8, size - 8):
        put(6, i, i % 2 == 0)
        put(i, 6, i % 2 == 0)
    centres = _ALIGN[version]
    lo, hi = (centres[0], centres[-1]) if centres else (0, 0)
    corners = {(lo, lo), (lo, hi), (hi, lo)}
    for r in centres:
        for c in centres:
            if (r, c) not in corners:
                for dr in range(-2, 3):
                    for dc in range(-2, 3):
                        put(r + dr, c + dc, max(abs(dr), abs(dc)) != 1)
    put(size - 8, 8, True)  # the dark module
    for _, first, second in _format_positions(size):
        for r, c in (first, second):
            put(r, c, False)  # reserved; written per mask below
    if version >= 7:
        info = _bch(version, 0x1F25, 12)
        for i in range(18):
            bit = bool(info >> i & 1)
            put(size - 11 + i % 3, i // 3, bit)
            put(i // 3, size - 11 + i % 3, bit)
    bits = [(w >> i) & 1 for w in words for i in reversed(range(8))]
    at = 0
    for right in range(size - 1, 0, -2):
        right = right - 1 if right <= 6 else right
        upward = (right + 1) & 2 == 0
        for step in range(size):
            row = size - 1 - step if upward else step
            for col in (right, right - 1):
                if not fixed[row][col]:
                    grid[row][col] = at < len(bits) and bits[at] == 1
                    at += 1
    best: list[list[bool]] = []
    best_score = -1
    for mask, rule in enumerate(_MASKS):
        trial = [
            [grid[r][c] != (not fixed[r][c] and rule(r, c)) for c in range(size)]
            for r in range(size)
        ]
        info = _bch(_LEVEL_M << 3 | mask, 0x537, 10) ^ 0x5412
        for i, first, second in _format_positions(size):
            for r, c in (first, second):
                trial[r][c] = bool(info >> i & 1)
        score = _penalty(trial)
        if best_score < 0 or score < best_score:
            best, best_score = trial, score
    return best


def _format_positions(size: int) -> list[tuple[int, tuple[int, int], tuple[int, int]]]:
    """Where bit i of the format information goes: (i, (row, col), (row, col))."""
    positions = []
    for i in range(15):
        if i < 6:
            first = (i, 8)
        elif i < 8:
            first = (i + 1, 8)
        elif i == 8:
            first = (8, 7)
        else:
            first = (8, 14 - i)
        second = (8, size - 1 - i) if i < 8 else (size - 15 + i, 8)
        positions.append((i, first, second))
    return positions


def _penalty(grid: list[list[bool]]) -> int:
    size, score = len(grid), 0
    lines = grid + [list(col) for col in zip(*grid, strict=True)]
    for line in lines:
        run = 1
        for a, b in itertools.pairwise(line):
            run = run + 1 if a == b else 1
            score += 3 if run == 5 else 1 if run > 5 else 0
        text = "".join("1" if d else "0" for d in line)
        score += 40 * (text.count("1011101" + "0000") + text.count("0000" + "1011101"))
    for r in range(size - 1):
        for c in range(size - 1):
            if grid[r][c] == grid[r][c + 1] == grid[r + 1][c] == grid[r + 1][c + 1]:
                score += 3
    dark = sum(map(sum, grid))
    score += 10 * (abs(dark * 20 - size * size * 10) // (size * size))
    return score


def terminal(text: str, *, ansi: bool = True) -> str:
    """The code as text, two modules per character cell, with a 2-module quiet zone.
    With ``ansi``, colours are set (black on white) so it scans on a dark terminal too."""
    matrix = encode(text)
    quiet = 2
    size = len(matrix) + 2 * quiet
    rows = [[False] * size for _ in range(quiet)]
    rows += [[False] * quiet + row + [False] * quiet for row in matrix]
    rows += [[False] * size for _ in range(quiet + 1)]
    glyphs = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=False):
        line = "".join(glyphs[(a, b)] for a, b in zip(top, bottom, strict=True))
        lines.append(f"\x1b[30;47m{line}\x1b[0m" if ansi else line)
    return "\n".join(lines)
