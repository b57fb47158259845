import Foundation

/// A child process with raw pipe access: stdout is read in exact-size chunks (video frames), stdin is
/// written without Foundation's buffering, and stderr is collected on a background thread so a chatty
/// child can never block on a full pipe.
final class RunningProcess {
    /// Written once by the stderr reader before it leaves the group, read only after waiting for the
    /// group: the group orders the two accesses, which the type system cannot see.
    private final class CollectedBytes: @unchecked Sendable {
        var bytes = Data()
    }

    private let process = Process()
    private let outputPipe = Pipe()
    private let errorPipe = Pipe()
    private let inputPipe: Pipe?
    private let errorCollector = DispatchGroup()
    private let collectedError = CollectedBytes()
    /// What the child wrote to stderr; complete once `errorCollector` has been waited for.
    private var errorData: Data { collectedError.bytes }

    init(_ executable: String, _ arguments: [String], pipeInput: Bool) throws {
        // A dead encoder must surface as a failed write, not kill us with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = outputPipe
        process.standardError = errorPipe
        inputPipe = pipeInput ? Pipe() : nil
        process.standardInput = inputPipe ?? FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw MediaError.ffmpegMissing(tool: executable)
        }
        let errorHandle = errorPipe.fileHandleForReading
        errorCollector.enter()
        DispatchQueue.global().async { [collectedError, errorCollector] in
            collectedError.bytes = errorHandle.readDataToEndOfFile()
            errorCollector.leave()
        }
    }

    /// Fills the buffer from stdout; returns the number of bytes read (less than asked only at the end).
    func readOutput(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let descriptor = outputPipe.fileHandleForReading.fileDescriptor
        var filled = 0
        while filled < buffer.count {
            let count = read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            if count > 0 {
                filled += count
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        return filled
    }

    /// Writes all bytes to stdin; false when the child stopped reading.
    func writeInput(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let descriptor = inputPipe?.fileHandleForWriting.fileDescriptor else { return false }
        var written = 0
        while written < bytes.count {
            let count = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if count > 0 {
                written += count
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }

    func closeInput() {
        try? inputPipe?.fileHandleForWriting.close()
    }

    /// Waits for exit (draining stdout so the child cannot stall on it) and returns the exit status.
    @discardableResult
    func wait() -> Int32 {
        closeInput()
        let outputHandle = outputPipe.fileHandleForReading
        while !outputHandle.availableData.isEmpty {}
        process.waitUntilExit()
        errorCollector.wait()
        return process.terminationStatus
    }

    func terminate() {
        if process.isRunning { process.terminate() }
        if process.processIdentifier > 0 { wait() }
    }

    /// The last non-empty line the child wrote to stderr (ffmpeg puts the cause there).
    var errorSummary: String {
        let lines = String(decoding: errorData, as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        return lines.last(where: { !$0.isEmpty }) ?? "exit status \(process.terminationStatus)"
    }

    /// The first non-empty stderr line without ffmpeg's "[component @ 0x...]" prefix: when ffmpeg
    /// refuses a setting, the cause comes first and the later lines only repeat its consequence.
    var firstErrorLine: String {
        let lines = String(decoding: errorData, as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first(where: { !$0.isEmpty }) else { return "exit status \(process.terminationStatus)" }
        if first.hasPrefix("["), let close = first.range(of: "] ") { return String(first[close.upperBound...]) }
        return first
    }
}

/// Runs a short command to completion and returns its output.
enum ProcessRunner {
    struct Output {
        let status: Int32
        let stdout: [UInt8]
        let errorSummary: String
        let firstErrorLine: String
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let process = try RunningProcess(executable, arguments, pipeInput: false)
        var stdout: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { process.readOutput(into: $0) }
            stdout += chunk.prefix(count)
            if count < chunk.count { break }
        }
        let status = process.wait()
        return Output(status: status, stdout: stdout, errorSummary: process.errorSummary, firstErrorLine: process.firstErrorLine)
    }
}
