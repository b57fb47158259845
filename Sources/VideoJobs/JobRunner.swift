import Foundation
import Media

/// Runs a planned job: validates every input before the first frame is upscaled, then reads, upscales
/// and writes frame by frame. Every output file is written under a temporary name and renamed when
/// complete, so a failure never leaves half a file behind. With a resumable upscaler, the job's state
/// is saved every `checkpointEvery` frames in a work folder beside the output, and `resume` continues
/// from there with the same frames, bit for bit, as an uninterrupted run.
public final class JobRunner {
    public let job: VideoJob
    public let options: JobOptions
    public let sizePolicy: FrameSizePolicy
    private let onEvent: (JobEvent) -> Void
    private let now: () -> Double
    /// ffmpeg as given (the server's restricts what a source may open), else found on PATH when needed.
    private let givenTools: FFmpegTools?

    public init(job: VideoJob, options: JobOptions = JobOptions(), sizePolicy: FrameSizePolicy = FrameSizePolicy(),
                tools: FFmpegTools? = nil, onEvent: @escaping (JobEvent) -> Void = { _ in }) {
        self.job = job
        self.options = options
        self.sizePolicy = sizePolicy
        self.givenTools = tools
        self.onEvent = onEvent
        now = { ProcessInfo.processInfo.systemUptime }
    }

    /// Checks what can be checked without upscaling: frame files readable with equal sizes within each
    /// sequence, the video probe-able, the encoder settings usable by the local ffmpeg, output folders
    /// creatable, and any checkpoint left beside the output resumable. Call before loading a model.
    public func validate() throws {
        try options.validate()
        switch job {
        case .sequences(let sequences):
            for sequence in sequences {
                let frames = try selectedFrames(of: sequence)
                var first: (width: Int, height: Int)?
                for (_, path) in frames {
                    let size = try ImageFile.size(of: path)
                    if let first, first != size {
                        throw VideoJobError.frameSizeMismatch(path: path, expected: "\(first.width)x\(first.height)", found: "\(size.width)x\(size.height)")
                    }
                    try sizePolicy.validate(width: size.width, height: size.height, path: path)
                    first = size
                }
                try createFolder(sequence.outputFolder)
                _ = try savedProgress(in: WorkFolder.forSequence(outputFolder: sequence.outputFolder), expected: try checkpointTemplate(for: sequence))
            }
        case .video(let input, let output):
            let tools = try givenTools ?? FFmpegTools.locate()
            let info = try VideoProbe.probe(input, tools: tools)
            try sizePolicy.validate(width: info.width, height: info.height, path: input)
            let range = try options.selection.frames(rate: info.frameRate)
            try createFolder(URL(fileURLWithPath: output).deletingLastPathComponent().path)
            try VideoEncoderCheck.verify(options.encoder, containerExtension: URL(fileURLWithPath: output).pathExtension.lowercased(), tools: tools)
            _ = try savedProgress(in: WorkFolder.forVideo(output: output), expected: try checkpointTemplate(video: input, frames: range))
        }
    }

    /// Validates, then upscales everything. Throws on the first failure, after cleaning up partial output
    /// (a resumable job keeps its last checkpoint for `resume`).
    @discardableResult
    public func run(factory: UpscalerFactory) throws -> JobSummary {
        try validate()
        let start = now()
        var timing = Timing(start: start)
        var outputs: [String] = []
        do {
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
        } catch {
            // A work folder with a checkpoint is what --resume continues from; one without is clutter.
            let kept = workFolders.filter { FileManager.default.fileExists(atPath: $0.checkpointPath) }
            for folder in workFolders where !kept.contains(folder) { folder.remove() }
            if !kept.isEmpty {
                onEvent(.warning("the progress so far is saved in \(kept.map(\.path).joined(separator: ", ")); run again with --resume to continue"))
            }
            throw error
        }
        // Finished sequences keep a "complete" checkpoint until the whole job is done, so that a resumed
        // job skips them.
        for folder in workFolders { folder.remove() }
        return JobSummary(frameSeconds: timing.frameSeconds, firstFrameLatency: timing.firstFrameLatency,
                          totalSeconds: now() - start, outputs: outputs)
    }

    private var workFolders: [WorkFolder] {
        switch job {
        case .sequences(let sequences): return sequences.map { WorkFolder.forSequence(outputFolder: $0.outputFolder) }
        case .video(_, let output): return [WorkFolder.forVideo(output: output)]
        }
    }

    struct Timing {
        let start: Double
        var frameSeconds: [Double] = []
        var firstFrameLatency: Double?
    }

    /// The sequence's frames that the selection keeps, as (file name, path).
    private func selectedFrames(of sequence: FrameSequence) throws -> [(name: String, path: String)] {
        let range = try options.selection.frames(rate: nil)
        let all = Array(zip(sequence.frames, sequence.framePaths))
        guard range.lowerBound < all.count else {
            throw VideoJobError.selectionEmpty(path: sequence.folder, selection: "--start-frame \(range.lowerBound)", frameCount: all.count)
        }
        return Array(all[range.lowerBound..<min(range.upperBound, all.count)])
    }

    private func checkpointTemplate(for sequence: FrameSequence) throws -> JobCheckpoint {
        JobCheckpoint(input: try InputFingerprint.frames(try selectedFrames(of: sequence).map(\.path)),
                      frames: JobCheckpoint.describe(try options.selection.frames(rate: nil)),
                      encoding: nil, framesDone: 0, complete: false, stateBytes: 0)
    }

    private func checkpointTemplate(video input: String, frames: Range<Int>) throws -> JobCheckpoint {
        JobCheckpoint(input: try InputFingerprint.video(input), frames: JobCheckpoint.describe(frames),
                      encoding: "\(options.encoder.fingerprint); \(options.effectiveSegmentFrames)-frame segments",
                      framesDone: 0, complete: false, stateBytes: 0)
    }

    /// The checkpoint an interrupted run left, checked against this run; refused unless resuming.
    private func savedProgress(in folder: WorkFolder, expected: JobCheckpoint) throws -> (checkpoint: JobCheckpoint, state: [UInt8])? {
        guard let saved = try JobCheckpoint.read(from: folder.checkpointPath) else { return nil }
        guard options.resume else { throw VideoJobError.interruptedRunFound(folder: folder.path) }
        try saved.checkpoint.verifyMatches(expected, path: folder.checkpointPath)
        return saved
    }

    /// A new upscaler, or one restored from the checkpoint's state.
    private func startUpscaler(_ name: String, saved: (checkpoint: JobCheckpoint, state: [UInt8])?, folder: WorkFolder,
                               factory: UpscalerFactory) throws -> FrameUpscaling {
        guard let saved, saved.checkpoint.framesDone > 0 else { return try factory.makeUpscaler(sequence: name) }
        onEvent(.resumed(name: name, framesDone: saved.checkpoint.framesDone))
        do {
            return try factory.resumeUpscaler(sequence: name, state: saved.state)
        } catch let error as VideoJobError {
            throw error
        } catch {
            throw VideoJobError.checkpointMismatch(path: folder.checkpointPath, difference: "\(error)")
        }
    }

    /// Saves the state after `framesDone` frames, when the upscaler can be resumed at all.
    private func saveCheckpoint(_ template: JobCheckpoint, framesDone: Int, complete: Bool, upscaler: ResumableUpscaling,
                                folder: WorkFolder) throws {
        var checkpoint = template
        checkpoint.framesDone = framesDone
        checkpoint.complete = complete
        try checkpoint.write(state: complete ? [] : upscaler.savedState(), to: folder.checkpointPath)
    }

    private func runSequence(_ sequence: FrameSequence, number: Int, of count: Int, factory: UpscalerFactory, timing: inout Timing) throws {
        let frames = try selectedFrames(of: sequence)
        let folder = WorkFolder.forSequence(outputFolder: sequence.outputFolder)
        let template = try checkpointTemplate(for: sequence)
        let saved = try savedProgress(in: folder, expected: template)
        onEvent(.sequenceStarted(name: sequence.name, sequenceNumber: number, sequenceCount: count, frameCount: frames.count))
        if let saved, saved.checkpoint.complete {
            onEvent(.resumed(name: sequence.name, framesDone: saved.checkpoint.framesDone))
            onEvent(.sequenceFinished(name: sequence.name, output: sequence.outputFolder))
            return
        }
        let upscaler = try startUpscaler(sequence.name, saved: saved, folder: folder, factory: factory)
        let resumable = upscaler as? ResumableUpscaling
        if saved == nil { folder.remove() }
        if resumable != nil { try folder.create() }
        let firstFrame = saved?.checkpoint.framesDone ?? 0
        var tracker = SequenceTracker(name: sequence.name, number: number, of: count, frameCount: frames.count, framesDone: firstFrame)
        for index in firstFrame..<frames.count {
            let (name, path) = frames[index]
            let frameStart = now()
            var frame = try RGBImage(contentsOf: path)
            if index == firstFrame, let warning = sizePolicy.warning(sequence: sequence.name, width: frame.width, height: frame.height) {
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
            if let resumable, (index + 1) % options.checkpointEvery == 0 || index + 1 == frames.count {
                try saveCheckpoint(template, framesDone: index + 1, complete: index + 1 == frames.count, upscaler: resumable, folder: folder)
            }
        }
        onEvent(.sequenceFinished(name: sequence.name, output: sequence.outputFolder))
    }

    private func runVideo(input: String, output: String, factory: UpscalerFactory, timing: inout Timing) throws {
        let tools = try givenTools ?? FFmpegTools.locate()
        let info = try VideoProbe.probe(input, tools: tools)
        let range = try options.selection.frames(rate: info.frameRate)
        let folder = WorkFolder.forVideo(output: output)
        let template = try checkpointTemplate(video: input, frames: range)
        let saved = try savedProgress(in: folder, expected: template)
        let name = URL(fileURLWithPath: input).lastPathComponent
        let frameCount = info.frameCount.map { max(0, min($0, range.upperBound) - range.lowerBound) }
        onEvent(.sequenceStarted(name: name, sequenceNumber: 1, sequenceCount: 1, frameCount: frameCount))
        if let warning = sizePolicy.warning(sequence: name, width: info.width, height: info.height) {
            onEvent(.warning(warning))
        }
        var source = SourceStreams(path: input, info: info, keepAudio: options.keepAudio, keepSubtitles: options.keepSubtitles)
        for warning in VideoSegmentJoiner.warnings(for: source, destination: output) { onEvent(.warning(warning)) }

        let segments: [VideoSegmentJoiner.Segment]
        if let saved, saved.checkpoint.complete {
            onEvent(.resumed(name: name, framesDone: saved.checkpoint.framesDone))
            segments = SegmentedVideoWriter.segments(framesWritten: saved.checkpoint.framesDone, segmentFrames: options.effectiveSegmentFrames)
            try folder.removeLeftovers(keepingSegments: segments.count, pendingFrames: 0..<0)
        } else {
            let upscaler = try startUpscaler(name, saved: saved, folder: folder, factory: factory)
            segments = try encodeVideo(input, frames: range, info: info, upscaler: upscaler, saved: saved?.checkpoint, template: template,
                                       folder: folder, tools: tools, name: name, frameCount: frameCount, timing: &timing)
        }
        // With a frame range the other streams are cut to the upscaled frames' span, measured from the
        // first video frame (which may come after the file's start, e.g. after audio priming).
        if range != 0..<Int.max {
            let seconds = { (frames: Int) in Double(frames) * Double(info.frameRate.denominator) / Double(info.frameRate.numerator) }
            source.window = (info.videoStartSeconds + seconds(range.lowerBound), seconds(segments.reduce(0) { $0 + $1.frames }))
        }
        try VideoSegmentJoiner.join(segments: segments, in: folder.path, frameRate: info.frameRate, source: source,
                                    destination: output, tools: tools)
        folder.remove()
        onEvent(.sequenceFinished(name: name, output: output))
    }

    /// Decodes, upscales and encodes the selected frames into segments, continuing after a checkpoint's frames.
    private func encodeVideo(_ input: String, frames range: Range<Int>, info: VideoInfo, upscaler: FrameUpscaling, saved: JobCheckpoint?,
                             template: JobCheckpoint, folder: WorkFolder, tools: FFmpegTools, name: String, frameCount: Int?,
                             timing: inout Timing) throws -> [VideoSegmentJoiner.Segment] {
        let resumable = upscaler as? ResumableUpscaling
        let segmentFrames = options.effectiveSegmentFrames
        var framesDone = saved?.framesDone ?? 0
        if saved == nil { folder.remove() }
        try folder.create()
        if saved != nil {
            try folder.removeLeftovers(keepingSegments: framesDone / segmentFrames,
                                       pendingFrames: SegmentedVideoWriter.pendingFrames(framesWritten: framesDone, segmentFrames: segmentFrames))
        }
        let writer = SegmentedVideoWriter(folder: folder, frameRate: info.frameRate, encoder: options.encoder, segmentFrames: segmentFrames,
                                          keepsPendingFrames: resumable != nil, framesWritten: framesDone, tools: tools)
        defer { writer.cancel() }
        try writer.reopen()
        let (first, overflow) = range.lowerBound.addingReportingOverflow(framesDone)
        let reader = try VideoFrameReader(path: input, frames: (overflow ? Int.max - 1 : first)..<range.upperBound, tools: tools)
        defer { reader.close() }
        var tracker = SequenceTracker(name: name, number: 1, of: 1, frameCount: frameCount, framesDone: framesDone)
        while true {
            let frameStart = now()
            guard let frame = try reader.nextFrame() else { break }
            let upscaled = try upscaler.upscale(sizePolicy.apply(frame))
            try tracker.checkSize(upscaled)
            try writer.append(upscaled)
            framesDone += 1
            finishFrame(started: frameStart, tracker: &tracker, timing: &timing)
            if let resumable, framesDone % options.checkpointEvery == 0 {
                try saveCheckpoint(template, framesDone: framesDone, complete: false, upscaler: resumable, folder: folder)
                writer.discardPendingFrames()
            }
        }
        guard framesDone > 0 else {
            throw range == 0..<Int.max ? VideoJobError.noFrames(path: input)
                : VideoJobError.selectionEmpty(path: input, selection: "frames \(JobCheckpoint.describe(range))", frameCount: info.frameCount ?? 0)
        }
        let segments = try writer.finish()
        if let resumable {
            try saveCheckpoint(template, framesDone: framesDone, complete: true, upscaler: resumable, folder: folder)
            try folder.removeLeftovers(keepingSegments: segments.count, pendingFrames: 0..<0)
        }
        return segments
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
    /// Frames of the sequence written, including those of an interrupted run this one resumed.
    private(set) var framesDone: Int
    /// Frames upscaled by this run, and their total time (the ETA's basis).
    private var timedFrames = 0
    private var seconds = 0.0
    private var outputSize: (width: Int, height: Int)?

    init(name: String, number: Int, of count: Int, frameCount: Int?, framesDone: Int = 0) {
        self.name = name
        self.number = number
        self.count = count
        self.frameCount = frameCount
        self.framesDone = framesDone
    }

    mutating func checkSize(_ frame: RGBImage) throws {
        if let size = outputSize, size != (frame.width, frame.height) {
            throw VideoJobError.upscalerOutputSizeChanged(sequence: name, expected: "\(size.width)x\(size.height)", found: "\(frame.width)x\(frame.height)")
        }
        outputSize = (frame.width, frame.height)
    }

    mutating func record(seconds frameSeconds: Double) -> JobProgress {
        framesDone += 1
        timedFrames += 1
        seconds += frameSeconds
        let mean = seconds / Double(timedFrames)
        let eta = frameCount.map { Double(max($0 - framesDone, 0)) * mean }
        return JobProgress(sequence: name, sequenceNumber: number, sequenceCount: count, framesDone: framesDone,
                           frameCount: frameCount, secondsPerFrame: mean, etaSeconds: eta)
    }
}
