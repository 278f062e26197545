import Foundation

/// BPF objects compiled from `bpf/tests/`, for tests and benchmarks only.
public enum TestBPFObjects {
  /// `bpf/tests/rejected.bpf.c`: a program the verifier refuses.
  public static var rejected: [UInt8] { [UInt8](Data(base64Encoded: rejectedBase64)!) }
}

extension TestBPFObjects {
  /// `bpf/tests/classifier.bpf.c`: drops packets longer than 100 bytes.
  public static var classifier: [UInt8] { [UInt8](Data(base64Encoded: classifierBase64)!) }
}

extension TestBPFObjects {
  /// `bpf/tests/ring_producer.bpf.c`: writes copies of one block record into a ring buffer
  /// (vigil-bench's synthetic producer).
  public static var ringProducer: [UInt8] { [UInt8](Data(base64Encoded: ring_producerBase64)!) }
}

extension TestBPFObjects {
  /// `bpf/tests/tcx_pass.bpf.c`: an empty tcx program (vigil-policy-bench's baseline).
  public static var tcxPass: [UInt8] { [UInt8](Data(base64Encoded: tcx_passBase64)!) }
}
