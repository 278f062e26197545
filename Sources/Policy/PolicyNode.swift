import Dispatch
import Glibc
import Yams

/// A YAML node being read into a policy. Errors name the field relative to this node; reading
/// a key or an item through ``PolicyFields`` or ``items(_:)`` puts the path in front, so no path
/// is built unless there is an error.
struct PolicyNode {
  let tree: YAMLTree
  let index: Int

  /// The documents of `yaml` in order, nil for empty ones; syntax errors carry line and column.
  static func documents(yaml: String, source: String) throws(PolicyError) -> [PolicyNode?] {
    let tree: YAMLTree
    do {
      tree = try YAMLTree.documents(yaml: yaml)
    } catch let error as YamlError {
      throw syntaxError(error, source: source)
    } catch {
      throw PolicyError(source: source, reason: "malformed YAML: \(error)")
    }
    return tree.roots.map { tree.isNull($0) ? nil : PolicyNode(tree: tree, index: $0) }
  }

  /// An error about this node, quoting its text when it is a scalar and `showingValue` holds.
  func error(_ reason: String, showingValue: Bool = true) -> PolicyError {
    PolicyError(value: showingValue ? text : nil, reason: reason)
  }

  /// A plain `~`, `null` or empty value.
  var isNull: Bool { tree.isNull(index) }

  /// A mapping's entries, rejecting keys outside `known` (at most 8) and repeats; null reads as
  /// empty.
  func mapping(keys known: [StaticString]) throws(PolicyError) -> PolicyFields {
    var fields = PolicyFields(tree: tree, known: known)
    if isNull { return fields }
    guard tree.nodes[index].kind == .mapping else {
      throw error("must be a mapping\(kindSuffix)")
    }
    var children = tree.children(index)
    while let key = children.next(), let value = children.next() {
      guard let position = known.firstIndex(where: { tree.hasText(key, $0) }) else {
        guard let name = tree.text(key) else { throw error("has a key that is not a name") }
        throw PolicyError(
          field: name,
          reason:
            "is not a known key (expected one of: \(known.map(\.description).joined(separator: ", ")))"
        )
      }
      guard fields.values[position] < 0 else {
        throw PolicyError(field: known[position].description, reason: "is set more than once")
      }
      fields.values[position] = Int32(value)
    }
    return fields
  }

  /// Each item of a sequence read by `read`, errors naming the item `[index]`; null reads as
  /// empty.
  func items<T>(_ read: (PolicyNode) throws(PolicyError) -> T) throws(PolicyError) -> [T] {
    if isNull { return [] }
    guard tree.nodes[index].kind == .sequence else {
      throw error("must be a list\(kindSuffix)")
    }
    var values: [T] = []
    values.reserveCapacity(tree.count(index))
    for (position, item) in tree.children(index).enumerated() {
      do {
        values.append(try read(PolicyNode(tree: tree, index: item)))
      } catch {
        throw error.within("[\(position)]")
      }
    }
    return values
  }

  /// `items(_:)` of a long sequence (at least `concurrentItems`), read in contiguous parts by
  /// one thread per CPU; the same values, or the error of the first item that fails.
  func itemsConcurrently<T: Sendable>(_ read: @Sendable (PolicyNode) throws(PolicyError) -> T)
    throws(PolicyError) -> [T]
  {
    guard !isNull, tree.nodes[index].kind == .sequence else { return try items(read) }
    let items = Array(tree.children(index))
    let parts = min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), items.count / Self.concurrentItems)
    guard parts > 1 else { return try self.items(read) }
    let results = PartResults<Result<[T], PolicyError>>(count: parts)
    let tree = tree
    DispatchQueue.concurrentPerform(iterations: parts) { part in
      let range = items.count * part / parts..<items.count * (part + 1) / parts
      var values: [T] = []
      values.reserveCapacity(range.count)
      for position in range {
        do throws(PolicyError) {
          values.append(try read(PolicyNode(tree: tree, index: items[position])))
        } catch {
          results.set(part, .failure(error.within("[\(position)]")))
          return
        }
      }
      results.set(part, .success(values))
    }
    var values: [T] = []
    values.reserveCapacity(items.count)
    for part in 0..<parts { values += try results.get(part).get() }
    return values
  }

  /// Sequences shorter than twice this are read by one thread.
  static let concurrentItems = 1024

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

  /// The scalar's UTF-8 text (empty for a collection) converted by `convert`, without making a
  /// string; nil when `convert` gives nil.
  func converted<T>(_ convert: (UnsafeBufferPointer<UInt8>) -> T?) -> T? {
    tree.withText(index, convert)
  }

  /// The text at `path` under this node when every step is a mapping and the end a scalar,
  /// for naming a document before it is validated.
  func peek(_ path: StaticString...) -> String? {
    var current = index
    for key in path {
      guard let next = tree.value(current, key: key) else { return nil }
      current = next
    }
    return tree.text(current)
  }

  /// The text of a scalar node.
  var text: String? { tree.text(index) }

  private var kindSuffix: String {
    switch tree.nodes[index].kind {
    case .plain, .quoted: ""
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
  fileprivate let tree: YAMLTree
  /// The keys the mapping may have.
  fileprivate let known: [StaticString]
  /// The value node of each known key; -1 when the key is absent.
  fileprivate var values = SIMD8<Int32>(repeating: -1)

  fileprivate init(tree: YAMLTree, known: [StaticString]) {
    precondition(known.count <= 8, "a policy mapping has at most 8 keys")
    self.tree = tree
    self.known = known
  }

  /// The entry under `key`, one of the known keys, when present, even if null.
  func entry(_ key: StaticString) -> PolicyNode? {
    guard let position = known.firstIndex(where: { $0.utf8Buffer.sameBytes(key.utf8Buffer) }),
      values[position] >= 0
    else { return nil }
    return PolicyNode(tree: tree, index: Int(values[position]))
  }

  /// Whether `key` is present (even if null).
  func contains(_ key: StaticString) -> Bool { entry(key) != nil }

  /// The entry under `key` read by `read` when present and not null, even when `nulls` holds.
  func read<T>(
    _ key: StaticString, nulls: Bool = false, _ read: (PolicyNode) throws(PolicyError) -> T
  ) throws(PolicyError) -> T? {
    guard let entry = entry(key), nulls || !entry.isNull else { return nil }
    do {
      return try read(entry)
    } catch {
      throw error.within("\(key)")
    }
  }

  /// The entry under `key` read by `read`; `hint` follows "is required" when it is missing.
  func required<T>(
    _ key: StaticString, hint: String = "", _ read: (PolicyNode) throws(PolicyError) -> T
  ) throws(PolicyError) -> T {
    guard let value = try self.read(key, read) else {
      throw PolicyError(
        field: "\(key)", reason: "is required" + (hint.isEmpty ? "" : " (\(hint))"))
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
