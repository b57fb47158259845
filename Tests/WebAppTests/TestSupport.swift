import Foundation
import HTTPTypes
import HummingbirdTesting
import Media
import NIOCore
import VideoJobs
import XCTest
@testable import WebApp

/// Stand-in for the model: nearest-neighbour x4, optionally slow, recording the steps it was asked for.
final class NearestProvider: UpscalerProvider, @unchecked Sendable {
    let modelName = "nearest x4 (test stand-in)"
    let secondsPerFrame: Double
    private let lock = NSLock()
    private var requestedSteps: [Int] = []

    init(secondsPerFrame: Double = 0) {
        self.secondsPerFrame = secondsPerFrame
    }

    var stepsRequested: [Int] { lock.withLock { requestedSteps } }

    func factory(inferenceSteps: Int) throws -> UpscalerFactory {
        lock.withLock { requestedSteps.append(inferenceSteps) }
        return Factory(secondsPerFrame: secondsPerFrame)
    }

    struct Factory: UpscalerFactory {
        let secondsPerFrame: Double
        func makeUpscaler(sequence: String) throws -> FrameUpscaling { NearestUpscaler(secondsPerFrame: secondsPerFrame) }
    }
}

final class NearestUpscaler: FrameUpscaling {
    let secondsPerFrame: Double
    init(secondsPerFrame: Double = 0) { self.secondsPerFrame = secondsPerFrame }

    func upscale(_ frame: RGBImage) throws -> RGBImage {
        if secondsPerFrame > 0 { Thread.sleep(forTimeInterval: secondsPerFrame) }
        return NearestUpscaler.nearest(frame)
    }

    static func nearest(_ frame: RGBImage) -> RGBImage {
        let width = frame.width * 4, height = frame.height * 4
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let source = ((y / 4) * frame.width + x / 4) * 3
                let target = (y * width + x) * 3
                pixels[target] = frame.pixels[source]
                pixels[target + 1] = frame.pixels[source + 1]
                pixels[target + 2] = frame.pixels[source + 2]
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}

/// Scratch folders, generated clips and a live server on 127.0.0.1 for one test. Sendable because the
/// test server's closures call the test's helpers on other threads: the stored properties are set in
/// `setUp`, before any closure exists, and only read afterwards.
class WebAppTestCase: XCTestCase, @unchecked Sendable {
    var tools: FFmpegTools!
    var scratch: URL!

    override func setUpWithError() throws {
        guard let tools = try? FFmpegTools.locate() else { throw XCTSkip("ffmpeg/ffprobe not installed") }
        self.tools = tools
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("webapp-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
    }

    var temporaryFolder: String { scratch.appendingPathComponent("tmp").path }
    var outputFolder: String { scratch.appendingPathComponent("outputs").path }

    func configuration() -> ServerConfiguration {
        ServerConfiguration(host: "127.0.0.1", port: 0, modelID: "test", temporaryFolder: temporaryFolder,
                            outputFolder: outputFolder, maxUploadBytes: 4 << 20, maxInputSide: 64, defaultInferenceSteps: 3)
    }

    func withServer(_ configuration: ServerConfiguration? = nil, provider: UpscalerProvider = NearestProvider(),
                    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let server = try WebServer(configuration: configuration ?? self.configuration(), provider: provider, tools: tools)
        defer { server.stop() }
        try await server.makeApplication().test(.live, body)
    }

    /// Runs ffmpeg with lavfi sources; `name` is created in the scratch folder.
    @discardableResult
    func makeClip(_ name: String, _ arguments: [String]) throws -> String {
        let path = scratch.appendingPathComponent(name).path
        let output = try ToolProcess.run(tools.ffmpeg, ["-hide_banner", "-loglevel", "error", "-y"] + arguments + [path])
        XCTAssertEqual(output.status, 0, "ffmpeg could not make \(name): \(output.errorSummary)")
        return path
    }

    /// 10 frames of 32x24 test pattern at 12 fps, H.264 + AAC sine tone in MP4.
    func makeClipWithAudio(_ name: String = "clip.mp4", size: String = "32x24", codec: [String] = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]) throws -> String {
        try makeClip(name, ["-f", "lavfi", "-i", "testsrc=size=\(size):rate=12", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050",
                            "-frames:v", "10", "-t", "0.84"] + codec + ["-c:a", "aac", "-shortest"])
    }

    func upload(_ client: any TestClientProtocol, path: String, name: String) async throws -> TestResponse {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let query = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name
        return try await client.execute(uri: "/api/uploads?name=\(query)", method: .post, headers: octetStream, body: ByteBuffer(bytes: bytes))
    }

    /// The content types the server accepts on POST (the page sends the same).
    var jsonContent: HTTPFields { [.contentType: "application/json"] }
    var octetStream: HTTPFields { [.contentType: "application/octet-stream"] }

    func json<T: Decodable>(_ type: T.Type, _ response: TestResponse, file: StaticString = #filePath, line: UInt = #line) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: response.body))
        } catch {
            XCTFail("HTTP \(response.status.code): \(String(buffer: response.body))", file: file, line: line)
            throw error
        }
    }

    func startJob(_ client: any TestClientProtocol, upload: String, steps: Int? = nil) async throws -> JobStatus {
        var body = "{\"upload\": \"\(upload)\""
        if let steps { body += ", \"inferenceSteps\": \(steps)" }
        body += "}"
        let response = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonContent, body: ByteBuffer(string: body))
        XCTAssertEqual(response.status, .accepted, String(buffer: response.body))
        return try json(JobStatus.self, response)
    }

    /// Every status event of a job's SSE stream (the stream ends after the final state).
    func events(_ client: any TestClientProtocol, job: String) async throws -> [JobStatus] {
        let response = try await client.execute(uri: "/api/jobs/\(job)/events", method: .get)
        XCTAssertEqual(response.headers[.contentType], "text/event-stream")
        return try String(buffer: response.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { event in
            let lines = event.split(separator: "\n")
            XCTAssertEqual(lines.first, "event: status")
            let data = lines.first { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) } ?? ""
            return try JSONDecoder().decode(JobStatus.self, from: Data(data.utf8))
        }
    }

    func poll(_ client: any TestClientProtocol, job: String, until done: (JobStatus) -> Bool) async throws -> JobStatus {
        for _ in 0..<400 {
            let status = try json(JobStatus.self, try await client.execute(uri: "/api/jobs/\(job)", method: .get))
            if done(status) { return status }
            try await Task.sleep(nanoseconds: 25_000_000)
        }
        XCTFail("job \(job) never reached the expected state")
        throw CancellationError()
    }

    struct StreamInfo: Decodable {
        let codec_type: String
        let width: Int?
        let height: Int?
        let r_frame_rate: String?
        let nb_read_frames: String?
    }

    func probeStreams(_ path: String) throws -> [StreamInfo] {
        let output = try ToolProcess.run(tools.ffprobe, ["-v", "error", "-count_frames", "-print_format", "json",
                                                         "-show_entries", "stream=codec_type,width,height,r_frame_rate,nb_read_frames", path])
        struct Report: Decodable { let streams: [StreamInfo] }
        return try JSONDecoder().decode(Report.self, from: output.stdout).streams
    }

    func contents(of folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }
}
