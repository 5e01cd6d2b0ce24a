"""Model configurations of the compressor: the presets ``small``, ``medium`` (default) and ``large``."""
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class ModelConfig:
    """Everything that shapes the float computations; stored in every compressed file.

    hidden: LSTM cells per layer; layers: stacked LSTM layers (all feed the softmax); embedding: byte
    embedding width; streams: most parallel streams a block is split into (coded in lockstep, batched);
    min_stream: fewest bytes a stream gets (small inputs use fewer streams); truncation: bytes between
    truncated-BPTT updates; lr, beta2: Adam (beta1 = 0); orders: context orders of the count models;
    words: 1 adds a count model in the context of the current word's letters, 0 not;
    table_bits: log2 of hashed context slots per order; mixer_lr: the mixer's learning rate;
    block: bytes per block (memory stays bounded by it).
    """
    hidden: int = 96
    layers: int = 1
    embedding: int = 32
    streams: int = 32
    min_stream: int = 2048
    truncation: int = 4
    lr: float = 0.01
    beta2: float = 0.9999
    orders: tuple = (0, 1, 2, 3, 4, 5, 6)
    words: int = 1
    table_bits: int = 17
    mixer_lr: float = 0.0007
    block: int = 1 << 22

    def __post_init__(self):
        for name, low, high in _BOUNDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise ValueError(f"model configuration: expected {name} in {low}..{high}, got {value!r}")
            if isinstance(low, int) and not isinstance(value, int):
                raise ValueError(f"model configuration: expected {name} to be an int, got {value!r}")
        orders = self.orders
        if (not isinstance(orders, tuple) or not 1 <= len(orders) <= 8
                or any(isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 7 for n in orders)):
            raise ValueError(f"model configuration: expected orders as 1 to 8 ints in 0..7, got {orders!r}")
        if self.table_bytes() > _MAX_TABLE_BYTES:
            raise ValueError(f"model configuration: count tables of {self.table_bytes() / 2**30:.1f} GiB exceed "
                             f"the {_MAX_TABLE_BYTES / 2**30:.0f} GiB allowed (fewer orders or table_bits)")

    def table_bytes(self) -> int:
        """Memory of the context-count tables (uint8 counts, 256 a context)."""
        rows = sum(min(256 ** n, 1 << self.table_bits) for n in self.orders) + self.words * (1 << self.table_bits)
        return 256 * rows

    def to_dict(self) -> dict:
        d = asdict(self)
        d["orders"] = list(self.orders)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        names = {f.name for f in fields(cls)}
        if not isinstance(d, dict) or set(d) != names:
            raise ValueError(f"model configuration: expected the fields {sorted(names)}, got {d!r}")
        orders = d["orders"]
        return cls(**{**d, "orders": tuple(orders) if isinstance(orders, list) else orders})


_BOUNDS = (("hidden", 1, 2048), ("layers", 1, 4), ("embedding", 1, 256), ("streams", 1, 128),
           ("min_stream", 1, 1 << 24), ("truncation", 1, 1000), ("lr", 0.0, 1.0), ("beta2", 0.0, 1.0),
           ("table_bits", 8, 24), ("words", 0, 1), ("mixer_lr", 0.0, 1.0), ("block", 1, 1 << 26))

_MAX_TABLE_BYTES = 2 << 30

PRESETS = {
    "small": ModelConfig(hidden=48, embedding=16, table_bits=16),
    "medium": ModelConfig(),
    "large": ModelConfig(hidden=256, embedding=64, table_bits=18),
}
