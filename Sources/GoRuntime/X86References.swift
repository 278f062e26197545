/// The RIP-relative operands in a function's x86-64 machine code, which is how Go code addresses
/// global variables. The scan is by byte pattern, not a full decoder: a false match would need
/// the opcode, ModRM and a displacement that lands in the binary's data, which the callers check.
struct X86References {
  /// A 7-byte `REX.W op reg, [rip + disp32]` instruction.
  struct Reference: Equatable {
    static let load: UInt8 = 0x8b
    static let store: UInt8 = 0x89
    static let lea: UInt8 = 0x8d
    static let opcodes: Set<UInt8> = [load, store, lea, 0x39, 0x3b]

    /// Offset of the REX prefix in the function.
    var offset: Int
    var opcode: UInt8
    var register: UInt8
    var target: UInt64
  }

  let code: [UInt8]
  let references: [Reference]

  init(code: [UInt8], address: UInt64) {
    self.code = code
    var references: [Reference] = []
    for offset in code.indices.dropLast(6) {
      let (rex, opcode, modrm) = (code[offset], code[offset + 1], code[offset + 2])
      // REX.W, an opcode above, ModRM with mod 00 and rm 101 (RIP-relative).
      guard rex & 0xf8 == 0x48, Reference.opcodes.contains(opcode), modrm & 0xc7 == 0x05,
        let displacement: UInt32 = code.le(offset + 3)
      else { continue }
      let next = address &+ UInt64(offset + 7)
      references.append(
        Reference(
          offset: offset, opcode: opcode, register: (rex & 4) << 1 | (modrm >> 3) & 7,
          target: next &+ UInt64(bitPattern: Int64(Int32(bitPattern: displacement)))))
    }
    self.references = references
  }

  /// The `XCHG source, [base]` (REX.W 87 /r, mod 00) at `offset`: how Go stores atomically.
  func exchange(at offset: Int) -> (source: UInt8, base: UInt8)? {
    guard offset >= 0, offset + 3 <= code.count else { return nil }
    let (rex, opcode, modrm) = (code[offset], code[offset + 1], code[offset + 2])
    // rm 100 needs a SIB byte and 101 is RIP-relative: neither is a plain base register.
    guard rex & 0xf8 == 0x48, opcode == 0x87, modrm >> 6 == 0, modrm & 7 != 4, modrm & 7 != 5
    else { return nil }
    return ((rex & 4) << 1 | (modrm >> 3) & 7, (rex & 1) << 3 | modrm & 7)
  }

  /// Targets stored atomically: `LEA base, [rip + target]` followed by `XCHG source, [base]`.
  var atomicStores: [(lea: Reference, source: UInt8)] {
    references.compactMap { reference in
      guard reference.opcode == Reference.lea,
        let exchange = exchange(at: reference.offset + 7), exchange.base == reference.register
      else { return nil }
      return (reference, exchange.source)
    }
  }
}
