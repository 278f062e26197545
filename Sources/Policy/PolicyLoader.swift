import PolicyFiles

/// Reads policy documents from a file or a directory of `*.yaml` and `*.yml` files.
public enum PolicyLoader {
  /// Loads and validates every document under `path`: the file itself, or the directory's YAML
  /// files in name order (not recursing, skipping dot files). An empty directory is an error.
  public static func load(path: String) throws(PolicyError) -> [LocatedDocument] {
    let files: [PolicyFile]
    do {
      files = try PolicyFiles.read(path)
    } catch {
      throw PolicyError(source: error.path, reason: error.reason)
    }
    var texts: [(source: String, yaml: String)] = []
    for file in files {
      guard let yaml = String(validating: file.bytes, as: UTF8.self) else {
        throw PolicyError(source: file.path, reason: "is not UTF-8 text")
      }
      texts.append((file.path, yaml))
    }
    return try parse(texts: texts)
  }

  /// Parses and validates the YAML `texts`, each named by its source (such as its file name).
  public static func parse(texts: [(source: String, yaml: String)]) throws(PolicyError)
    -> [LocatedDocument]
  {
    let limit = PolicyFiles.maxFileBytes
    var documents: [LocatedDocument] = []
    for text in texts {
      guard text.yaml.utf8.count <= limit else {
        throw PolicyError(
          source: text.source,
          reason:
            "is \(text.yaml.utf8.count >> 20) MiB; policy files are limited to \(limit >> 20) MiB"
        )
      }
      documents += try PolicyDocument.parseLocated(yaml: text.yaml, source: text.source)
    }
    try PolicyDocument.validate(documents)
    return documents
  }
}
