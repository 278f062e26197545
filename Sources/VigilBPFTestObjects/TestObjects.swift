import Foundation

/// BPF objects compiled from `bpf/tests/`, for tests only.
public enum TestBPFObjects {
  /// `bpf/tests/rejected.bpf.c`: a program the verifier refuses.
  public static var rejected: [UInt8] { [UInt8](Data(base64Encoded: rejectedBase64)!) }
}
