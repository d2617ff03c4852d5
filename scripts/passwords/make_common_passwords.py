"""Writes domain/data/common-passwords.txt: passwords too common to allow.

Source: the frequency-ranked password list in the `zxcvbn` package (MIT license, from
leaked-password corpora). Only entries of at least 8 characters are kept, since shorter
ones fail the length rule anyway.

    pip install zxcvbn==4.5.0 && python3 scripts/passwords/make_common_passwords.py
"""
from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 8
OUT = Path(__file__).resolve().parents[2] / "domain" / "data" / "common-passwords.txt"


def main() -> None:
    words = [w for w in FREQUENCY_LISTS["passwords"] if len(w) >= MIN_LENGTH]
    header = "# Most common passwords of 8+ characters, most common first (zxcvbn 4.5.0, MIT).\n"
    OUT.write_text(header + "\n".join(words) + "\n", encoding="utf-8")
    print(f"wrote {len(words)} passwords to {OUT}")


if __name__ == "__main__":
    main()
