import Foundation
import Media

/// Runs a planned job: validates every input before the first frame is upscaled, then reads, upscales
/// and writes frame by frame. Every output file is written under a temporary name and renamed when
/// complete, so a failure never leaves half a file behind.
public final class JobRunner {
    public let job: VideoJob
    public let sizePolicy: FrameSizePolicy
    private let onEvent: (JobEvent) -> Void
    private let now: () -> Double

    public init(job: VideoJob, sizePolicy: FrameSizePolicy = FrameSizePolicy(), onEvent: @escaping (JobEvent) -> Void = { _ in }) {
        self.job = job
        self.sizePolicy = sizePolicy
        self.onEvent = onEvent
        now = { ProcessInfo.processInfo.systemUptime }
    }

    /// Checks what can be checked without upscaling: frame files readable with equal sizes within each
    /// sequence, the video probe-able, output folders creatable. Call before loading a model.
    public func validate() throws {
        switch job {
        case .sequences(let sequences):
            for sequence in sequences {
                var first: (width: Int, height: Int)?
                for path in sequence.framePaths {
                    let size = try ImageFile.size(of: path)
                    if let first, first != size {
                        throw VideoJobError.frameSizeMismatch(path: path, expected: "\(first.width)x\(first.height)", found: "\(size.width)x\(size.height)")
                    }
                    try sizePolicy.validate(width: size.width, height: size.height, path: path)
                    first = size
                }
                try createFolder(sequence.outputFolder)
            }
        case .video(let input, let output):
            let info = try VideoProbe.probe(input, tools: FFmpegTools.locate())
            try sizePolicy.validate(width: info.width, height: info.height, path: input)
            try createFolder(URL(fileURLWithPath: output).deletingLastPathComponent().path)
        }
    }

    /// Validates, then upscales everything. Throws on the first failure, after cleaning up partial output.
    @discardableResult
    public func run(factory: UpscalerFactory) throws -> JobSummary {
        try validate()
        let start = now()
        var timing = Timing(start: start)
        var outputs: [String] = []
        switch job {
        case .sequences(let sequences):
            for (index, sequence) in sequences.enumerated() {
                try runSequence(sequence, number: index + 1, of: sequences.count, factory: factory, timing: &timing)
                outputs.append(sequence.outputFolder)
            }
        case .video(let input, let output):
            try runVideo(input: input, output: output, factory: factory, timing: &timing)
            outputs.append(output)
        }
        return JobSummary(frameSeconds: timing.frameSeconds, firstFrameLatency: timing.firstFrameLatency,
                          totalSeconds: now() - start, outputs: outputs)
    }

    struct Timing {
        let start: Double
        var frameSeconds: [Double] = []
        var firstFrameLatency: Double?
    }

    private func runSequence(_ sequence: FrameSequence, number: Int, of count: Int, factory: UpscalerFactory, timing: inout Timing) throws {
        onEvent(.sequenceStarted(name: sequence.name, sequenceNumber: number, sequenceCount: count, frameCount: sequence.frames.count))
        let upscaler = try factory.makeUpscaler(sequence: sequence.name)
        var tracker = SequenceTracker(name: sequence.name, number: number, of: count, frameCount: sequence.frames.count)
        for (name, path) in zip(sequence.frames, sequence.framePaths) {
            let frameStart = now()
            var frame = try RGBImage(contentsOf: path)
            if tracker.framesDone == 0, let warning = sizePolicy.warning(sequence: sequence.name, width: frame.width, height: frame.height) {
                onEvent(.warning(warning))
            }
            frame = sizePolicy.apply(frame)
            let upscaled = try upscaler.upscale(frame)
            try tracker.checkSize(upscaled)
            let destination = (sequence.outputFolder as NSString).appendingPathComponent(name)
            do {
                try upscaled.writePNG(to: destination)
            } catch let error as MediaError {
                if case .unwritable(_, let reason) = error { throw VideoJobError.outputUnwritable(path: destination, reason: reason) }
                throw error
            }
            finishFrame(started: frameStart, tracker: &tracker, timing: &timing)
        }
        onEvent(.sequenceFinished(name: sequence.name, output: sequence.outputFolder))
    }

    private func runVideo(input: String, output: String, factory: UpscalerFactory, timing: inout Timing) throws {
        let tools = try FFmpegTools.locate()
        let reader = try VideoFrameReader(path: input, tools: tools)
        defer { reader.close() }
        let name = URL(fileURLWithPath: input).lastPathComponent
        onEvent(.sequenceStarted(name: name, sequenceNumber: 1, sequenceCount: 1, frameCount: reader.info.frameCount))
        if let warning = sizePolicy.warning(sequence: name, width: reader.info.width, height: reader.info.height) {
            onEvent(.warning(warning))
        }
        let upscaler = try factory.makeUpscaler(sequence: name)
        var tracker = SequenceTracker(name: name, number: 1, of: 1, frameCount: reader.info.frameCount)
        var writer: VideoFrameWriter?
        do {
            while true {
                let frameStart = now()
                guard let frame = try reader.nextFrame() else { break }
                let upscaled = try upscaler.upscale(sizePolicy.apply(frame))
                try tracker.checkSize(upscaled)
                if writer == nil {
                    // The encoder starts with the first upscaled frame, the first moment its size is known.
                    let audio = reader.info.audioCodec.map { (path: input, codec: $0) }
                    writer = try VideoFrameWriter(destination: output, width: upscaled.width, height: upscaled.height,
                                                  frameRate: reader.info.frameRate, audioFrom: audio, tools: tools)
                }
                try writer!.write(upscaled)
                finishFrame(started: frameStart, tracker: &tracker, timing: &timing)
            }
            guard let writer else { throw VideoJobError.noFrames(path: input) }
            try writer.finish()
        } catch {
            writer?.cancel()
            throw error
        }
        onEvent(.sequenceFinished(name: name, output: output))
    }

    private func finishFrame(started: Double, tracker: inout SequenceTracker, timing: inout Timing) {
        let finished = now()
        timing.frameSeconds.append(finished - started)
        if timing.firstFrameLatency == nil { timing.firstFrameLatency = finished - timing.start }
        onEvent(.frameFinished(tracker.record(seconds: finished - started)))
    }

    private func createFolder(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw VideoJobError.outputUnwritable(path: path, reason: "cannot create the folder")
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw VideoJobError.outputUnwritable(path: path, reason: "folder is not writable")
        }
    }
}

/// Per-sequence counters behind the progress events.
struct SequenceTracker {
    let name: String
    let number: Int
    let count: Int
    let frameCount: Int?
    private(set) var framesDone = 0
    private var seconds = 0.0
    private var outputSize: (width: Int, height: Int)?

    init(name: String, number: Int, of count: Int, frameCount: Int?) {
        self.name = name
        self.number = number
        self.count = count
        self.frameCount = frameCount
    }

    mutating func checkSize(_ frame: RGBImage) throws {
        if let size = outputSize, size != (frame.width, frame.height) {
            throw VideoJobError.upscalerOutputSizeChanged(sequence: name, expected: "\(size.width)x\(size.height)", found: "\(frame.width)x\(frame.height)")
        }
        outputSize = (frame.width, frame.height)
    }

    mutating func record(seconds frameSeconds: Double) -> JobProgress {
        framesDone += 1
        seconds += frameSeconds
        let mean = seconds / Double(framesDone)
        let eta = frameCount.map { Double(max($0 - framesDone, 0)) * mean }
        return JobProgress(sequence: name, sequenceNumber: number, sequenceCount: count, framesDone: framesDone,
                           frameCount: frameCount, secondsPerFrame: mean, etaSeconds: eta)
    }
}
