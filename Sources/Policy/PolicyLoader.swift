/// Reads policy documents from a file or a directory of `*.yaml` and `*.yml` files.
public enum PolicyLoader {
  /// The largest policy file read; larger ones are refused before they are read.
  public static let maxFileBytes = 4 << 20

  /// Loads and validates every document under `path`: the file itself, or the directory's YAML
  /// files in name order (not recursing, skipping dot files). An empty directory is an error.
  public static func load(path: String) throws(PolicyError) -> [PolicyDocument] {
    var documents: [LocatedDocument] = []
    for file in try PolicyFiles.list(path) {
      let yaml = try PolicyFiles.contents(file, limit: maxFileBytes)
      documents += try PolicyDocument.parseLocated(yaml: yaml, source: file)
    }
    try PolicyDocument.validate(documents)
    return documents.map(\.document)
  }

  /// Parses and validates the YAML `texts`, each named by its source (such as its file name).
  public static func parse(texts: [(source: String, yaml: String)]) throws(PolicyError)
    -> [LocatedDocument]
  {
    var documents: [LocatedDocument] = []
    for text in texts {
      guard text.yaml.utf8.count <= maxFileBytes else {
        throw PolicyError(
          source: text.source,
          reason:
            "is \(text.yaml.utf8.count >> 20) MiB; policy files are limited to \(maxFileBytes >> 20) MiB"
        )
      }
      documents += try PolicyDocument.parseLocated(yaml: text.yaml, source: text.source)
    }
    try PolicyDocument.validate(documents)
    return documents
  }

  /// The YAML text of every policy file under `path` (see `load(path:)`), unparsed.
  public static func texts(path: String) throws(PolicyError) -> [(source: String, yaml: String)] {
    var texts: [(source: String, yaml: String)] = []
    for file in try PolicyFiles.list(path) {
      texts.append((file, try PolicyFiles.contents(file, limit: maxFileBytes)))
    }
    return texts
  }
}
