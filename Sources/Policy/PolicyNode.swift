import Yams

/// A YAML node being read into a policy. Errors name the field relative to this node; reading
/// a key or an item through ``PolicyFields`` or ``items(_:)`` puts the path in front, so no path
/// is built unless there is an error.
struct PolicyNode {
  let node: YAMLNode

  /// The documents of `yaml` in order, nil for empty ones; syntax errors carry line and column.
  static func documents(yaml: String, source: String) throws(PolicyError) -> [PolicyNode?] {
    let roots: [YAMLNode]
    do {
      roots = try YAMLNode.documents(yaml: yaml)
    } catch let error as YamlError {
      throw syntaxError(error, source: source)
    } catch {
      throw PolicyError(source: source, reason: "malformed YAML: \(error)")
    }
    return roots.map { $0.isNull ? nil : PolicyNode(node: $0) }
  }

  /// An error about this node, quoting its text when it is a scalar and `showingValue` holds.
  func error(_ reason: String, showingValue: Bool = true) -> PolicyError {
    PolicyError(value: showingValue ? text : nil, reason: reason)
  }

  /// A plain `~`, `null` or empty value.
  var isNull: Bool { node.isNull }

  /// A mapping's entries, rejecting keys outside `known` and repeats; null reads as empty.
  func mapping(keys known: [String]) throws(PolicyError) -> PolicyFields {
    if isNull { return PolicyFields(pairs: []) }
    guard case .mapping(let pairs) = node.content else {
      throw error("must be a mapping\(kindSuffix)")
    }
    for (index, pair) in pairs.enumerated() {
      guard let name = pair.key.text else { throw error("has a key that is not a name") }
      guard known.contains(name) else {
        throw PolicyError(
          field: name,
          reason: "is not a known key (expected one of: \(known.joined(separator: ", ")))")
      }
      guard !pairs[..<index].contains(where: { $0.key.text == name }) else {
        throw PolicyError(field: name, reason: "is set more than once")
      }
    }
    return PolicyFields(pairs: pairs)
  }

  /// Each item of a sequence read by `read`, errors naming the item `[index]`; null reads as
  /// empty.
  func items<T>(_ read: (PolicyNode) throws(PolicyError) -> T) throws(PolicyError) -> [T] {
    if isNull { return [] }
    guard case .sequence(let items) = node.content else {
      throw error("must be a list\(kindSuffix)")
    }
    var values: [T] = []
    values.reserveCapacity(items.count)
    for (index, item) in items.enumerated() {
      do {
        values.append(try read(PolicyNode(node: item)))
      } catch {
        throw error.within("[\(index)]")
      }
    }
    return values
  }

  /// The text of a non-null scalar.
  func string() throws(PolicyError) -> String {
    guard !isNull else { throw error("needs a value", showingValue: false) }
    guard let text else { throw error("must be a single value\(kindSuffix)") }
    return text
  }

  /// The text of a scalar converted by `convert`; `reason` follows the value when it fails.
  func parsed<T>(_ convert: (String) -> T?, else reason: @autoclosure () -> String)
    throws(PolicyError) -> T
  {
    let text = try string()
    guard let value = convert(text) else { throw error(reason()) }
    return value
  }

  /// The text at `path` under this node when every step is a mapping and the end a scalar,
  /// for naming a document before it is validated.
  func peek(_ path: String...) -> String? {
    var current = node
    for key in path {
      guard let next = current[key] else { return nil }
      current = next
    }
    return current.text
  }

  /// The text of a scalar node.
  var text: String? { node.text }

  private var kindSuffix: String {
    switch node.content {
    case .scalar: ""
    case .mapping: ", not a mapping"
    case .sequence: ", not a list"
    }
  }

  private static func syntaxError(_ error: YamlError, source: String) -> PolicyError {
    switch error {
    case .scanner(let context, let problem, let mark, _),
      .parser(let context, let problem, let mark, _),
      .composer(let context, let problem, let mark, _):
      let detail = context.map { "\(problem) (\($0.text))" } ?? problem
      return PolicyError(
        source: source, reason: "malformed YAML: \(detail)", line: mark.line, column: mark.column)
    default:
      return PolicyError(source: source, reason: "malformed YAML: \(error)")
    }
  }
}

/// A mapping's entries, read by key; errors of an entry are named by its key.
struct PolicyFields {
  fileprivate let pairs: [YAMLNode.Pair]

  /// The entry under `key` when present, even if null.
  func entry(_ key: String) -> PolicyNode? {
    pairs.first { $0.key.text == key }.map { PolicyNode(node: $0.value) }
  }

  /// Whether `key` is present (even if null).
  func contains(_ key: String) -> Bool { entry(key) != nil }

  /// The entry under `key` read by `read` when present and not null, even when `nulls` holds.
  func read<T>(_ key: String, nulls: Bool = false, _ read: (PolicyNode) throws(PolicyError) -> T)
    throws(PolicyError) -> T?
  {
    guard let entry = entry(key), nulls || !entry.isNull else { return nil }
    do {
      return try read(entry)
    } catch {
      throw error.within(key)
    }
  }

  /// The entry under `key` read by `read`; `hint` follows "is required" when it is missing.
  func required<T>(
    _ key: String, hint: String = "", _ read: (PolicyNode) throws(PolicyError) -> T
  ) throws(PolicyError) -> T {
    guard let value = try self.read(key, read) else {
      throw PolicyError(field: key, reason: "is required" + (hint.isEmpty ? "" : " (\(hint))"))
    }
    return value
  }
}

extension PolicyError {
  /// This error, about the field `step` (a key or `[index]`) leads to.
  func within(_ step: String) -> PolicyError {
    var error = self
    error.field =
      field.isEmpty ? step : field.first == "[" ? step + field : "\(step).\(field)"
    return error
  }
}
