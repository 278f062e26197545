import Foundation
import Policy
import Testing

/// A fresh temporary directory, removed after `body`.
private func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent(
    "policy-\(UUID().uuidString)"
  ).path
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
  defer { try? FileManager.default.removeItem(atPath: path) }
  try body(path)
}

private func write(_ text: String, to path: String) throws {
  try text.write(toFile: path, atomically: false, encoding: .utf8)
}

/// A one-document policy named `name` for `interface`.
private func policy(_ name: String, interface: String = "eth0") -> String {
  """
  apiVersion: vigil/v1
  kind: NetworkPolicy
  metadata: {name: \(name)}
  spec: {endpoint: {interface: \(interface)}, ingress: [{ports: [{port: 80}]}]}
  """
}

/// The message `PolicyLoader.load(path:)` fails with, or nil.
private func loadError(_ path: String) -> String? {
  do {
    _ = try PolicyLoader.load(path: path)
    return nil
  } catch {
    return error.description
  }
}

@Suite struct PolicyLoaderTests {
  @Test func loadsAFileWithSeveralDocuments() throws {
    try withTemporaryDirectory { directory in
      try write(policy("a") + "\n---\n" + policy("b", interface: "eth1"), to: "\(directory)/p.yaml")
      #expect(
        try PolicyLoader.load(path: "\(directory)/p.yaml").map(\.document.name) == ["a", "b"])
    }
  }

  @Test func loadsADirectoryInNameOrder() throws {
    try withTemporaryDirectory { directory in
      try write(policy("c"), to: "\(directory)/2-c.yml")
      try write(policy("a") + "\n---\n" + policy("b"), to: "\(directory)/1-ab.yaml")
      try write("not: [yaml", to: "\(directory)/notes.txt")
      try write("not: [yaml", to: "\(directory)/.hidden.yaml")
      try FileManager.default.createDirectory(
        atPath: "\(directory)/sub", withIntermediateDirectories: false)
      try write(policy("d"), to: "\(directory)/sub/d.yaml")
      #expect(try PolicyLoader.load(path: directory).map(\.document.name) == ["a", "b", "c"])
      #expect(try PolicyLoader.load(path: directory + "/").map(\.document.name) == ["a", "b", "c"])
    }
  }

  @Test func namesTheFileOfADuplicate() throws {
    try withTemporaryDirectory { directory in
      try write(policy("web"), to: "\(directory)/a.yaml")
      try write(
        policy("api") + "\n---\n" + policy("web", interface: "eth1"), to: "\(directory)/b.yaml")
      #expect(
        loadError(directory)
          == "\(directory)/b.yaml: policy \"web\": metadata.name: web is also the name of "
          + "document 1 of \(directory)/a.yaml")
    }
  }

  @Test func reportsErrorsWithTheirFile() throws {
    try withTemporaryDirectory { directory in
      try write(policy("ok"), to: "\(directory)/a.yaml")
      try write(
        policy("bad").replacingOccurrences(of: "port: 80", with: "port: 0"),
        to: "\(directory)/b.yaml")
      #expect(
        loadError(directory)
          == "\(directory)/b.yaml: policy \"bad\": spec.ingress[0].ports[0].port: 0 is not a port (1-65535)"
      )
    }
  }

  @Test func refusesEmptyDirectoriesAndMissingPaths() throws {
    try withTemporaryDirectory { directory in
      #expect(loadError(directory) == "\(directory): contains no .yaml or .yml policy files")
      #expect(
        loadError("\(directory)/missing.yaml")
          == "\(directory)/missing.yaml: cannot read: No such file or directory")
      try write("", to: "\(directory)/empty.yaml")
      #expect(try PolicyLoader.load(path: directory).isEmpty)
      try Data([0x6b, 0x3a, 0xff]).write(to: URL(fileURLWithPath: "\(directory)/binary.yaml"))
      #expect(loadError(directory) == "\(directory)/binary.yaml: is not UTF-8 text")
    }
  }

  @Test func refusesHugeFilesWithoutReadingThem() throws {
    try withTemporaryDirectory { directory in
      let path = "\(directory)/huge.yaml"
      let descriptor = open(path, O_CREAT | O_WRONLY, 0o600)
      #expect(descriptor >= 0)
      #expect(ftruncate(descriptor, 50 << 20) == 0)
      close(descriptor)
      let start = ContinuousClock.now
      let message = loadError(path)
      #expect(message == "\(path): is 50.0 MiB; policy files are limited to 4.0 MiB")
      #expect(ContinuousClock.now - start < .milliseconds(200))
      #expect(loadError(directory) == message)
    }
  }

  @Test func refusesDevicesAndPipes() throws {
    #expect(loadError("/dev/zero") == "/dev/zero: is not a regular file")
    try withTemporaryDirectory { directory in
      #expect(mkfifo("\(directory)/pipe.yaml", 0o600) == 0)
      #expect(loadError(directory) == "\(directory)/pipe.yaml: is not a regular file")
    }
  }
}
