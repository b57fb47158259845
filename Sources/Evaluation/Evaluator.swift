import Foundation
import Media
import TensorEngine

/// Scores of one output frame against its reference.
public struct FrameScores: Codable, Sendable, Equatable {
    public var psnrY: Double
    public var ssimY: Double
    public var psnrRGB: Double
    public var ssimRGB: Double
    /// Warping error between this frame and the previous one; nil for a sequence's first frame or when not computed.
    public var warpingError: Double?
}

/// Means over a sequence (or, for `overall`, over the sequences' means, as BasicSR averages video clips).
public struct SequenceScores: Codable, Sendable, Equatable {
    public var name: String
    public var frames: Int
    public var psnrY: Double
    public var ssimY: Double
    public var psnrRGB: Double
    public var ssimRGB: Double
    /// Mean over consecutive frame pairs; nil with fewer than two frames or when not computed.
    public var warpingError: Double?
    public var perFrame: [FrameScores]?
}

public struct EvaluationReport: Codable, Sendable, Equatable {
    public var cropBorder: Int
    public var sequences: [SequenceScores]
    public var overall: SequenceScores
}

/// Streams each pair of sequences frame by frame and scores them.
public struct Evaluator {
    public var cropBorder = 0
    /// Computes the warping error when set (two RAFT runs per frame pair on the reference frames).
    public var flow: WarpingError.FlowEstimator?
    /// Where `flow` computes (its inputs are made there).
    public var flowDevice = Device.cpu
    public var onFrame: (_ sequence: String, _ frame: Int) -> Void = { _, _ in }

    public init() {}

    public func evaluate(_ pairs: [(name: String, output: FrameSource, reference: FrameSource)]) throws -> EvaluationReport {
        var toolsCache: FFmpegTools?
        let tools = { () throws -> FFmpegTools in
            if let toolsCache { return toolsCache }
            let located = try FFmpegTools.locate()
            toolsCache = located
            return located
        }
        let sequences = try pairs.map { try evaluate(name: $0.name, output: $0.output, reference: $0.reference, tools: tools) }
        return EvaluationReport(cropBorder: cropBorder, sequences: sequences,
                                overall: Self.mean(sequences, name: "overall", frames: sequences.reduce(0) { $0 + $1.frames }))
    }

    func evaluate(name: String, output: FrameSource, reference: FrameSource, tools: () throws -> FFmpegTools) throws -> SequenceScores {
        let nextOutput = try output.makeIterator(tools: tools)
        let nextReference = try reference.makeIterator(tools: tools)
        var frames: [FrameScores] = []
        var previous: (output: RGBImage, reference: RGBImage)?
        while true {
            let (outputFrame, referenceFrame) = (try nextOutput(), try nextReference())
            guard let outputFrame, let referenceFrame else {
                guard outputFrame == nil && referenceFrame == nil else {
                    // Count the longer side's remaining frames for the message.
                    let longer = outputFrame != nil ? nextOutput : nextReference
                    var extra = 1
                    while try longer() != nil { extra += 1 }
                    throw EvaluationError.frameCountMismatch(sequence: name, outputs: frames.count + (outputFrame != nil ? extra : 0),
                                                             reference: frames.count + (referenceFrame != nil ? extra : 0))
                }
                break
            }
            do {
                var scores = FrameScores(
                    psnrY: try ImageQuality.psnr(outputFrame, referenceFrame, cropBorder: cropBorder, channels: .y),
                    ssimY: try ImageQuality.ssim(outputFrame, referenceFrame, cropBorder: cropBorder, channels: .y),
                    psnrRGB: try ImageQuality.psnr(outputFrame, referenceFrame, cropBorder: cropBorder, channels: .rgb),
                    ssimRGB: try ImageQuality.ssim(outputFrame, referenceFrame, cropBorder: cropBorder, channels: .rgb))
                if let flow, let previous {
                    scores.warpingError = try WarpingError.error(current: outputFrame, previous: previous.output, currentReference: referenceFrame,
                                                                 previousReference: previous.reference, on: flowDevice, flow: flow)
                }
                frames.append(scores)
            } catch let error as EvaluationError {
                throw EvaluationError.frame(sequence: name, index: frames.count, reason: "\(error)")
            }
            previous = (outputFrame, referenceFrame)
            onFrame(name, frames.count)
        }
        guard !frames.isEmpty else { throw EvaluationError.noFrames(path: name) }
        let warping = frames.compactMap(\.warpingError)
        return SequenceScores(name: name, frames: frames.count, psnrY: Self.mean(frames.map(\.psnrY)), ssimY: Self.mean(frames.map(\.ssimY)),
                              psnrRGB: Self.mean(frames.map(\.psnrRGB)), ssimRGB: Self.mean(frames.map(\.ssimRGB)),
                              warpingError: warping.isEmpty ? nil : Self.mean(warping), perFrame: frames)
    }

    static func mean(_ values: [Double]) -> Double {
        values.reduce(0, +) / Double(values.count)
    }

    static func mean(_ sequences: [SequenceScores], name: String, frames: Int) -> SequenceScores {
        let warping = sequences.compactMap(\.warpingError)
        return SequenceScores(name: name, frames: frames, psnrY: mean(sequences.map(\.psnrY)), ssimY: mean(sequences.map(\.ssimY)),
                              psnrRGB: mean(sequences.map(\.psnrRGB)), ssimRGB: mean(sequences.map(\.ssimRGB)),
                              warpingError: warping.isEmpty ? nil : mean(warping), perFrame: nil)
    }
}

extension EvaluationReport {
    /// JSON with infinite PSNR (identical frames) written as "inf", as JSON has no infinity.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// The terminal table: one row per sequence, then the overall means. E_warp is shown x 1e-3 (the
    /// unit papers report it in); the JSON has the plain value.
    public func table() -> String {
        let header = ["sequence", "frames", "PSNR-Y", "SSIM-Y", "PSNR-RGB", "SSIM-RGB", "Ewarp(1e-3)"]
        let rows = (sequences + [overall]).map { scores -> [String] in
            [scores.name, "\(scores.frames)", Self.decibels(scores.psnrY), String(format: "%.4f", scores.ssimY),
             Self.decibels(scores.psnrRGB), String(format: "%.4f", scores.ssimRGB),
             scores.warpingError.map { String(format: "%.3f", $0 * 1000) } ?? "-"]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        let line = { (cells: [String]) in
            cells.enumerated().map { column, cell in
                column == 0 ? cell.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }
        var lines = [line(header)] + rows.dropLast().map(line)
        lines.append(String(repeating: "-", count: lines[0].count))
        lines.append(line(rows.last!))
        return lines.joined(separator: "\n") + "\n(PSNR/SSIM as BasicSR, crop border \(cropBorder); overall = mean of the sequence means)\n"
    }

    static func decibels(_ value: Double) -> String {
        value.isInfinite ? "inf" : String(format: "%.2f", value)
    }
}
