/// Runtime variables of stripped binaries, which have no `.symtab` and whose `.gopclntab` names
/// only functions.
///
/// - `runtime.allgs`, `runtime.allglen` (bss): from the code of `runtime.allgadd`, which appends
///   to `allgs` (its pointer, length and capacity words are all used) and then stores
///   `len(allgs)` into `allglen` with an atomic `XCHG` right after loading it.
/// - `runtime.allm` (bss): the one variable `runtime.mcommoninit` stores atomically (`XCHG`).
/// - `runtime.waitReasonStrings`, `runtime.gStatusStrings` (data): the string array whose first
///   entries are the names every supported Go version starts with; its length from the
///   generated table for the binary's Go release.
/// - `runtime.buildVersion` (data): the string header pointing to the build info's version.
///
/// Checked against `.symtab` for every supported release by the tests. The code patterns are
/// for x86-64 and assume the compiler's current instruction choices.
extension GoBinary {
  func strippedVariable(named name: String) throws -> GoSymbol {
    switch name {
    case "runtime.allgs":
      return GoSymbol(name: name, address: try allgs(), size: 24, source: .codePattern)
    case "runtime.allglen":
      return GoSymbol(name: name, address: try allglen(), size: 8, source: .codePattern)
    case "runtime.allm":
      return GoSymbol(name: name, address: try allm(), size: 8, source: .codePattern)
    case "runtime.waitReasonStrings":
      return try stringArray(
        name, startingWith: ["", "GC assist marking", "IO wait"], count: \.waitReasonCount)
    case "runtime.gStatusStrings":
      return try stringArray(
        name, startingWith: ["idle", "runnable", "running", "syscall", "waiting"],
        count: \.gStatusCount)
    case "runtime.buildVersion":
      guard let version else {
        throw GoRuntimeError.symbolNotFound(name: name, reason: "no version")
      }
      let address = try stringArrays(startingWith: [version]).first
      guard let address else {
        throw GoRuntimeError.symbolNotFound(name: name, reason: "no string header for \(version)")
      }
      return GoSymbol(name: name, address: address, size: 16, source: .dataPattern)
    default:
      throw GoRuntimeError.symbolNotFound(
        name: name,
        reason: "the binary is stripped, .gopclntab names only functions, and Vigil knows no "
          + "pattern for this variable")
    }
  }

  private func allgs() throws -> UInt64 {
    let code = try references(in: "runtime.allgadd", for: "runtime.allgs")
    let targets = Set(code.references.map(\.target))
    let candidates = Set(
      code.references.map(\.target).filter {
        targets.contains($0 &+ 8) && targets.contains($0 &+ 16) && image.isWritableData($0)
      })
    guard candidates.count == 1, let address = candidates.first else {
      throw GoRuntimeError.symbolNotFound(
        name: "runtime.allgs", reason: "\(candidates.count) slice candidates in runtime.allgadd")
    }
    return address
  }

  private func allglen() throws -> UInt64 {
    let allgs = try allgs()
    let code = try references(in: "runtime.allgadd", for: "runtime.allglen")
    let lengthLoads = code.references.filter {
      $0.opcode == X86References.Reference.load && $0.target == allgs &+ 8
    }
    let stores = code.atomicStores.filter { store in
      lengthLoads.contains { $0.offset + 7 == store.lea.offset && $0.register == store.source }
    }
    return try unique(stores.map(\.lea.target), "runtime.allglen", in: "runtime.allgadd")
  }

  private func allm() throws -> UInt64 {
    let code = try references(in: "runtime.mcommoninit", for: "runtime.allm")
    return try unique(
      code.atomicStores.map(\.lea.target), "runtime.allm", in: "runtime.mcommoninit")
  }

  private func unique(_ targets: [UInt64], _ name: String, in function: String) throws -> UInt64 {
    let candidates = Set(targets.filter(image.isWritableData))
    guard candidates.count == 1, let address = candidates.first else {
      throw GoRuntimeError.symbolNotFound(
        name: name, reason: "\(candidates.count) atomic store candidates in \(function)")
    }
    return address
  }

  /// The RIP-relative operands of a runtime function's code.
  private func references(in function: String, for name: String) throws -> X86References {
    guard image.machine == 62 else {
      throw GoRuntimeError.symbolNotFound(
        name: name, reason: "stripped binary: code patterns exist only for x86-64")
    }
    guard let found = try pclntab?.function(named: function), found.end > found.entry,
      found.end - found.entry <= 1 << 16
    else {
      throw GoRuntimeError.symbolNotFound(name: name, reason: "stripped binary without \(function)")
    }
    let code = try image.read(address: found.entry, count: found.end - found.entry, what: function)
    return X86References(code: code, address: found.entry)
  }

  /// A `[N]string` variable recognised by its first entries, with N from the generated table.
  private func stringArray(
    _ name: String, startingWith prefix: [String], count: KeyPath<GoOffsetsTable.Entry, Int>
  ) throws -> GoSymbol {
    guard let release = goVersion, let entry = GoOffsetsTable.entry(for: release) else {
      throw GoRuntimeError.symbolNotFound(
        name: name,
        reason: "stripped binary of \(version ?? "unknown Go"), whose array length is not in "
          + "the generated table (\(GoOffsetsTable.supportedReleases.joined(separator: ", ")))")
    }
    let addresses = try stringArrays(startingWith: prefix)
    guard addresses.count == 1, let address = addresses.first else {
      throw GoRuntimeError.symbolNotFound(
        name: name, reason: "\(addresses.count) arrays in the data start like it")
    }
    return GoSymbol(
      name: name, address: address, size: UInt64(entry[keyPath: count]) * 16,
      source: .dataPattern)
  }

  /// Addresses in the data of consecutive Go string headers whose strings are `prefix`.
  func stringArrays(startingWith prefix: [String]) throws -> [UInt64] {
    let expected = prefix.map { Array($0.utf8) }
    var found: [UInt64] = []
    for (address, bytes) in try image.writableContents() {
      for offset in stride(from: 0, to: bytes.count - 16 * expected.count + 1, by: 8) {
        // Lengths first, the cheap test; then the bytes the pointers point to.
        guard
          expected.indices.allSatisfy({
            bytes.le(offset + 16 * $0 + 8, as: UInt64.self) == UInt64(expected[$0].count)
          }),
          expected.indices.allSatisfy({
            let pointer = bytes.le(offset + 16 * $0, as: UInt64.self) ?? 0
            let length = UInt64(expected[$0].count)
            return length == 0
              || (try? image.read(address: pointer, count: length, what: "string")) == expected[$0]
          })
        else { continue }
        found.append(address + UInt64(offset))
      }
    }
    return found
  }
}
