import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import Media
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The server behind `stream-diffvsr serve`: the page, uploads, the job queue with live progress,
/// downloads, and the WebSocket streaming API, all around one loaded model.
public final class WebServer: Sendable {
    public let configuration: ServerConfiguration
    let model: SharedModel
    let uploads: UploadStore
    let queue: JobQueue
    let housekeeping: Housekeeping
    let streams: StreamSlots

    /// Checks the access settings (a public address needs a token), creates the folders (relative ones
    /// against the working directory), clears uploads a previous run left behind, and starts the job
    /// worker and the housekeeping timer.
    public init(configuration: ServerConfiguration, provider: UpscalerProvider, tools: FFmpegTools) throws {
        try configuration.validateAccess()
        var configuration = configuration
        configuration.temporaryFolder = WebServer.absolute(configuration.temporaryFolder)
        configuration.outputFolder = WebServer.absolute(configuration.outputFolder)
        for folder in [configuration.temporaryFolder, configuration.outputFolder] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        for stale in (try? FileManager.default.contentsOfDirectory(atPath: configuration.temporaryFolder)) ?? [] where stale.hasPrefix("upload-") {
            try? FileManager.default.removeItem(atPath: (configuration.temporaryFolder as NSString).appendingPathComponent(stale))
        }
        self.configuration = configuration
        model = SharedModel(provider: provider)
        // Uploads are hostile: ffmpeg may read only the uploaded file, through an allow-listed demuxer.
        let uploadTools = tools.forUntrustedInput
        let limits = configuration.limits
        uploads = UploadStore(temporaryFolder: configuration.temporaryFolder, maxBytes: configuration.maxUploadBytes,
                              inspector: VideoInspector(tools: uploadTools, maxInputSide: configuration.maxInputSide,
                                                        maxFrames: limits.maxFramesPerJob),
                              limits: limits)
        queue = JobQueue(model: model, outputFolder: configuration.outputFolder, tools: uploadTools, maxQueuedJobs: limits.maxQueuedJobs)
        housekeeping = Housekeeping(uploads: uploads, queue: queue, outputFolder: configuration.outputFolder, limits: limits)
        streams = StreamSlots(limit: limits.maxStreams)
        queue.start()
        housekeeping.start()
    }

    /// Cancels waiting and running jobs (their scratch files go with them); call when the server stops.
    public func stop() {
        housekeeping.stop()
        queue.stop()
    }

    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Listens until SIGINT or SIGTERM, then finishes open requests and returns.
    public func run() async throws {
        try await makeApplication().runService()
    }

    public func makeApplication(logger: Logger? = nil) -> some ApplicationProtocol {
        let policy = AccessPolicy(configuration: configuration)
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.add(middleware: ErrorMessageMiddleware())
        router.add(middleware: AccessMiddleware(policy: policy))
        addRoutes(to: router)
        let streaming = FrameStreamEndpoint(model: model, maxInputSide: configuration.maxInputSide,
                                            defaultInferenceSteps: configuration.defaultInferenceSteps,
                                            maxFrames: configuration.limits.maxFramesPerJob, slots: streams)
        // A refused upgrade falls through to `router`, whose middleware answers with the reason.
        let socketRouter = Router(context: BasicWebSocketRequestContext.self)
        socketRouter.add(middleware: AccessMiddleware(policy: policy))
        socketRouter.ws("/api/stream") { inbound, outbound, context in
            let steps = context.request.uri.queryParameters.get("steps", as: Int.self)
            try await streaming.serve(inbound: inbound, outbound: outbound, steps: steps)
        }
        // Frames are single WebSocket messages; allow one raw frame of the largest accepted size per frame.
        let socketConfiguration = WebSocketServerConfiguration(maxFrameSize: streaming.maxMessageBytes)
        return Application(
            router: router,
            server: .http1WebSocketUpgrade(webSocketRouter: socketRouter, configuration: .init(ws: socketConfiguration)),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "stream-diffvsr"),
            logger: logger
        )
    }

    private func addRoutes(to router: Router<BasicWebSocketRequestContext>) {
        router.get("/") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            // Everything the page uses comes from this server (it must work offline).
            headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: WebPage.html)))
        }
        router.get("/api/info") { [configuration, model] _, _ in
            try JSONResponse.make(ServerInfo(model: model.provider.modelName, maxUploadBytes: configuration.maxUploadBytes,
                                             maxInputSide: configuration.maxInputSide,
                                             defaultInferenceSteps: configuration.defaultInferenceSteps,
                                             inferenceSteps: ServerConfiguration.inferenceStepRange))
        }
        router.post("/api/uploads") { [uploads] request, _ in
            let declared = request.headers[.contentLength].flatMap { Int($0) }
            let rawName = request.uri.queryParameters.get("name").map { String($0) }
                ?? request.headers[HTTPField.Name("X-File-Name")!]?.removingPercentEncoding ?? "video"
            let upload = try await uploads.receive(body: request.body, declaredLength: declared, fileName: rawName)
            return try JSONResponse.make(UploadReply(upload), status: .created)
        }
        router.get("/api/uploads/:id/preview") { [uploads] request, context in
            let upload = try uploads.upload(try context.parameters.require("id"))
            return try await FileResponse.make(path: upload.previewPath, contentType: "video/mp4", request: request, context: context)
        }
        router.delete("/api/uploads/:id") { [uploads] _, context in
            try uploads.discard(try context.parameters.require("id"))
            return Response(status: .noContent)
        }
        router.post("/api/jobs") { [uploads, queue, configuration] request, _ in
            let body = try await request.body.collect(upTo: 64 * 1024)
            guard let start = try? JSONDecoder().decode(StartJobRequest.self, from: Data(buffer: body)) else {
                throw WebAppError.invalidRequest("expected JSON {\"upload\": \"<id from POST /api/uploads>\", \"inferenceSteps\": <1-50>, \"quality\": \"standard|high|small\"}")
            }
            let steps = start.inferenceSteps ?? configuration.defaultInferenceSteps
            guard ServerConfiguration.inferenceStepRange.contains(steps) else {
                throw WebAppError.invalidSteps(found: steps, range: ServerConfiguration.inferenceStepRange)
            }
            let quality = try start.quality.map { name in
                guard let quality = OutputQuality(rawValue: name) else {
                    throw WebAppError.invalidRequest("quality must be one of \(OutputQuality.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(name)\"")
                }
                return quality
            } ?? .standard
            let upload = try uploads.claim(start.upload)
            do {
                let job = try queue.submit(upload, inferenceSteps: steps, quality: quality)
                return try JSONResponse.make(job.status, status: .accepted)
            } catch {
                uploads.giveBack(upload)
                throw error
            }
        }
        router.get("/api/jobs/:id") { [queue] _, context in
            try JSONResponse.make(try queue.job(try context.parameters.require("id")).status)
        }
        router.get("/api/jobs/:id/events") { [queue] _, context in
            let job = try queue.job(try context.parameters.require("id"))
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-cache"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                let encoder = JSONEncoder()
                // A graceful shutdown waits for open requests, and this one lasts as long as its job:
                // stopping the queue cancels the jobs, which ends every progress stream.
                try await withGracefulShutdownHandler {
                    for await status in job.watch() {
                        let json = String(decoding: try encoder.encode(status), as: UTF8.self)
                        try await writer.write(ByteBuffer(string: "event: status\ndata: \(json)\n\n"))
                    }
                } onGracefulShutdown: {
                    DispatchQueue.global().async { queue.stop() }
                }
                try await writer.finish(nil)
            })
        }
        router.post("/api/jobs/:id/cancel") { [queue] _, context in
            let id = try context.parameters.require("id")
            try queue.cancel(id)
            return try JSONResponse.make(try queue.job(id).status, status: .accepted)
        }
        router.get("/api/jobs/:id/frames/:kind") { [queue] _, context in
            let job = try queue.job(try context.parameters.require("id"))
            guard let kind = WebJob.FrameKind(rawValue: try context.parameters.require("kind")) else {
                throw WebAppError.invalidRequest("frame kind must be input or output")
            }
            guard let frame = try await NIOThreadPool.singleton.runIfActive({ try job.latestFramePNG(kind) }) else {
                return Response(status: .noContent)
            }
            var headers = HTTPFields()
            headers[.contentType] = "image/png"
            headers[.cacheControl] = "no-store"
            headers[HTTPField.Name("X-Frame-Index")!] = String(frame.index)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: frame.png)))
        }
        router.get("/api/jobs/:id/result") { [queue, configuration] request, context in
            let job = try queue.job(try context.parameters.require("id"))
            guard job.status.state == .finished else { throw WebAppError.resultNotReady(id: job.id) }
            // The path comes from the job, never from the request; refuse anything outside the output folder.
            let path = WebServer.absolute(job.outputPath)
            guard path.hasPrefix(configuration.outputFolder + "/") else { throw WebAppError.unknownJob(id: job.id) }
            var response = try await FileResponse.make(path: path, contentType: "video/mp4", request: request, context: context)
            if request.uri.queryParameters.get("download") != nil {
                response.headers[.contentDisposition] = "attachment; filename=\"\(job.downloadName)\""
            }
            return response
        }
    }
}

struct StartJobRequest: Decodable {
    let upload: String
    let inferenceSteps: Int?
    /// An `OutputQuality` name; standard when absent.
    let quality: String?
}

struct UploadReply: Encodable {
    let id: String
    let name: String
    let info: UploadedVideoInfo
    let previewURL: String

    init(_ upload: Upload) {
        id = upload.id
        name = upload.displayName
        info = upload.info
        previewURL = "/api/uploads/\(upload.id)/preview"
    }
}

struct ServerInfo: Encodable {
    let model: String
    let maxUploadBytes: Int
    let maxInputSide: Int
    let defaultInferenceSteps: Int
    let inferenceSteps: ClosedRange<Int>
}

enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
    }
}

/// Serves a whole file, or the one byte range a video element asks for (it seeks with Range requests).
enum FileResponse {
    static func make(path: String, contentType: String, request: Request, context: some RequestContext) async throws -> Response {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.intValue else {
            throw HTTPError(.notFound)
        }
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.acceptRanges] = "bytes"
        if let range = request.headers[.range].flatMap({ byteRange($0, size: size) }) {
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = String(range.count)
            let body = try await FileIO().loadFile(path: path, range: range, context: context)
            return Response(status: .partialContent, headers: headers, body: body)
        }
        headers[.contentLength] = String(size)
        return Response(status: .ok, headers: headers, body: try await FileIO().loadFile(path: path, context: context))
    }

    /// "bytes=a-b", "bytes=a-" or "bytes=-n" (one range only); nil for anything else.
    static func byteRange(_ header: String, size: Int) -> ClosedRange<Int>? {
        guard size > 0, header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let parts = header.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int(parts[1]), suffix > 0 else { return nil }
            return max(size - suffix, 0)...(size - 1)
        }
        guard let start = Int(parts[0]), start < size else { return nil }
        let end = parts[1].isEmpty ? size - 1 : min(Int(parts[1]) ?? size - 1, size - 1)
        return start <= end ? start...end : nil
    }
}

/// Turns every failure into JSON `{"error": "..."}` with its status, so the page can show the line as it is.
struct ErrorMessageMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as WebAppError {
            return try JSONResponse.make(["error": error.description], status: error.status)
        } catch let error as HTTPError {
            return try JSONResponse.make(["error": error.body ?? error.status.reasonPhrase], status: error.status)
        } catch let error as MediaError {
            return try JSONResponse.make(["error": error.description], status: .internalServerError)
        }
    }
}
