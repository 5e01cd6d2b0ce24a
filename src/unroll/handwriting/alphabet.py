"""The recogniser's alphabet: CTC blank at index 0, then the characters."""

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Alphabet:
    """Maps text to label indices 1..K (0 is the CTC blank) and back."""

    def __init__(self, chars: str = LETTERS):
        if len(set(chars)) != len(chars) or not chars:
            raise ValueError(f"chars: expected distinct characters, got {chars!r}")
        self.chars = chars
        self.index = {c: i + 1 for i, c in enumerate(chars)}

    def __len__(self) -> int:
        """Number of classes including the blank."""
        return len(self.chars) + 1

    def covers(self, text: str) -> bool:
        return bool(text) and all(c in self.index for c in text)

    def encode(self, text: str) -> list[int]:
        missing = sorted({c for c in text if c not in self.index})
        if missing:
            raise ValueError(f"text: characters {''.join(missing)!r} are not in the alphabet {self.chars!r}")
        return [self.index[c] for c in text]

    def decode(self, labels) -> str:
        return "".join(self.chars[int(i) - 1] for i in labels if int(i) > 0)
