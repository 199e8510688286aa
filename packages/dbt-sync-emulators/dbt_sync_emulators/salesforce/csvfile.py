"""Reading an uploaded Bulk API 2.0 CSV file the way Salesforce does (RFC 4180).

Facts relied on (Bulk API 2.0 Developer Guide, "Valid CSV Record Rows" and
"Prepare CSV Files"):

* a value holding the delimiter, a line break or a double quote is enclosed in
  double quotes, and a quote inside it is doubled (``"6"" tall"``); inside the
  quotes CR, LF and CRLF are part of the value;
* outside quotes a line ends at LF, CRLF or a bare CR (RFC 4180 readers, and
  Salesforce's, treat an unquoted CR as a line break);
* values are not trimmed: a space next to a delimiter belongs to the value,
  but a space before or after a quoted value "generates an error";
* ``#N/A`` is the null marker and an empty value means "unchanged"; neither
  has an escape, quoted or not (read by the caller, not here).

A malformed row carries an error message; the caller fails the job with
``InvalidBatch : Failed to parse CSV``, as the real service does for an
unescaped quote.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CsvRow:
    """One record of the file: its cells, or why it could not be read."""

    cells: list[str]
    error: str | None = None


def parse(text: str, delimiter: str = ",") -> list[CsvRow]:
    """Split ``text`` into rows; blank lines are skipped."""
    rows: list[CsvRow] = []
    i, n = 0, len(text)
    while i < n:
        cells: list[str] = []
        error: str | None = None
        blank = True
        while True:
            if i < n and text[i] == '"':
                blank = False
                value, i, closed = _quoted(text, i + 1)
                if not closed:
                    error = error or "a quoted value is not closed before the end of the file"
                if i < n and text[i] not in (delimiter, "\r", "\n"):
                    error = error or "a quoted value must be followed by the delimiter or the end of the line"
                    # skip to the next delimiter or line end, keeping what was read
                    while i < n and text[i] not in (delimiter, "\r", "\n"):
                        i += 1
                cells.append(value)
            else:
                start = i
                while i < n and text[i] not in (delimiter, "\r", "\n"):
                    i += 1
                value = text[start:i]
                if '"' in value:
                    error = error or "a double quote inside an unquoted value (or a space before a quote)"
                if value:
                    blank = False
                cells.append(value)
            if i < n and text[i] == delimiter:
                blank = False
                i += 1
                continue
            break
        # end of line: CRLF, LF or a bare CR
        if i < n and text[i] == "\r":
            i += 1
            if i < n and text[i] == "\n":
                i += 1
        elif i < n and text[i] == "\n":
            i += 1
        if not blank:
            rows.append(CsvRow(cells, error))
    return rows


def _quoted(text: str, i: int) -> tuple[str, int, bool]:
    """Read a quoted value starting after its opening quote: (value, next index, closed)."""
    parts: list[str] = []
    n = len(text)
    while i < n:
        j = text.find('"', i)
        if j < 0:
            parts.append(text[i:])
            return "".join(parts), n, False
        parts.append(text[i:j])
        if j + 1 < n and text[j + 1] == '"':
            parts.append('"')
            i = j + 2
            continue
        return "".join(parts), j + 1, True
    return "".join(parts), n, False
