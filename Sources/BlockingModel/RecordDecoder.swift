/// A record that does not match the ABI shared with the BPF programs.
public struct RecordDecodingError: Error, CustomStringConvertible, Sendable {
  public var description: String
}

/// Decodes ring buffer records laid out by `bpf/include/vigil_abi.h`.
public enum RecordDecoder {
  /// Decodes one record. Throws for a short or unknown record.
  public static func decode(_ bytes: UnsafeRawBufferPointer) throws(RecordDecodingError)
    -> ProbeRecord
  {
    try RecordView(bytes).decoded
  }
}
