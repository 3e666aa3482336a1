/// The version every command prints with `--version`.
public let ollyVersion = "0.1.0"
