"""The seed's experiments, each a small module that builds, runs and measures one claim."""
