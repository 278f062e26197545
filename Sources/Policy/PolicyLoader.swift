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
}
