import Foundation
import GoProcess
import Testing

/// The kernel state of this test process's own threads: one blocked reading an empty pipe, one
/// sleeping, and the thread running the test.
@Test func threadKernelStateNamesBlockingSystemCalls() throws {
  var fds: [Int32] = [0, 0]
  #expect(pipe(&fds) == 0)
  defer { close(fds[0]) }
  let reader = fds[0]
  let done = DispatchSemaphore(value: 0)
  let blocked = Thread {
    var byte: UInt8 = 0
    _ = read(reader, &byte, 1)
    done.signal()
  }
  blocked.start()
  let sleeper = Thread { Thread.sleep(forTimeInterval: 2) }
  sleeper.start()
  // Until both are parked in their system calls (at most 5 s).
  var threads: [ThreadKernelState] = []
  for _ in 0..<100 {
    threads = ThreadKernelState.threads(of: getpid())
    if threads.contains(where: { $0.syscall == "read" }),
      threads.contains(where: { ["nanosleep", "clock_nanosleep"].contains($0.syscall ?? "") })
    {
      break
    }
    Thread.sleep(forTimeInterval: 0.05)
  }
  var byte: UInt8 = 1
  _ = write(fds[1], &byte, 1)
  close(fds[1])
  done.wait()
  let reading = threads.first { $0.syscall == "read" }
  #expect(reading?.state == "sleeping", "\(threads)")
  #expect(
    threads.contains { ["nanosleep", "clock_nanosleep"].contains($0.syscall ?? "") }, "\(threads)")
  #expect(threads.contains { $0.tid == getpid() }, "\(threads)")
  let states: Set = ["running", "sleeping", "disk", "stopped", "tracing", "zombie", "idle"]
  #expect(threads.allSatisfy { states.contains($0.state) }, "\(threads)")
  #expect(threads.allSatisfy { !$0.name.isEmpty })
}

@Test func threadKernelStateOfAGoneProcessIsEmpty() {
  #expect(ThreadKernelState.threads(of: 1 << 30).isEmpty)
  #expect(ThreadKernelState.thread(pid: getpid(), tid: 1 << 30) == nil)
}
