"""The .dig language: loading, validating and compiling workflow files."""
