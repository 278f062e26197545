/// A policy problem, naming the file, the document, the field and the offending value.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The file the policy came from; nil for documents that did not come from a file.
  public var source: String?
  /// The document's position in its file, counted from 1.
  public var document: Int?
  /// The document's `metadata.name`, when known.
  public var policy: String?
  /// Dotted path of the field, such as `spec.ingress[0].from[0].ipBlock.cidr`; empty for none.
  public var field: String
  /// The offending value as written, when there is one.
  public var value: String?
  /// What is wrong, phrased to follow the value.
  public var reason: String
  /// Line of a YAML syntax error, counted from 1.
  public var line: Int?
  /// Column of a YAML syntax error, counted from 1.
  public var column: Int?

  /// An error; every part but `reason` is optional.
  public init(
    source: String? = nil, document: Int? = nil, policy: String? = nil, field: String = "",
    value: String? = nil, reason: String, line: Int? = nil, column: Int? = nil
  ) {
    self.source = source
    self.document = document
    self.policy = policy
    self.field = field
    self.value = value
    self.reason = reason
    self.line = line
    self.column = column
  }

  /// For example `web.yaml: policy "web": spec.ingress[0].ports[1].endPort: 7000 is less than port
  /// 8000`; a document without a known name is `document 2`.
  public var description: String {
    var parts: [String] = []
    if let source {
      parts.append(source + [line, column].compactMap { $0.map { ":\($0)" } }.joined())
    }
    if let policy {
      parts.append("policy \"\(policy)\"")
    } else if let document {
      parts.append("document \(document)")
    }
    if !field.isEmpty { parts.append(field) }
    parts.append(value.map { "\($0) \(reason)" } ?? reason)
    return parts.joined(separator: ": ")
  }

  /// This error with the parts it does not know yet filled in.
  func located(source: String?, document: Int?, policy: String?) -> PolicyError {
    var error = self
    error.source = error.source ?? source
    error.document = error.document ?? document
    error.policy = error.policy ?? policy
    return error
  }
}
