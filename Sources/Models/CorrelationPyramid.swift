// RAFT's all-pairs correlation (torchvision `CorrBlock`, 4 levels, radius 4) in two interchangeable
// forms. The full form stores corr(p, q) = <f1(p), f2(q)> / sqrt(C) for every pair and avg-pools its
// last two axes three times, as torchvision does: at 720p level 0 alone is 14,400 x 14,400 floats
// (830 MB). The on-demand form (RAFT's "alternate" implementation) avg-pools f2 instead — pooling
// is linear, so <f1(p), pool(f2)(q)> equals pool(corr(p, ·))(q) up to float rounding — and computes
// only the dot products each lookup window needs, so memory stays at the size of the feature maps.

import Foundation
import TensorEngine

public struct CorrelationPyramid {
    public enum Strategy: Sendable {
        /// torchvision's layout: the whole volume and its pooled levels, in memory.
        case fullVolume
        /// Dot products computed per lookup window from pooled second feature maps.
        case onDemand

        /// Level-0 volume size above which `automatic` switches to `onDemand`. Below it the full
        /// volume is also the faster form; above it the per-window dot products cost less than the
        /// (HW)² volume (12 iterations x 4 levels x 10x10 windows < HW).
        nonisolated(unsafe) public static var fullVolumeByteLimit = 128 << 20

        public static func automatic(featureHeight: Int, featureWidth: Int) -> Strategy {
            let pixels = featureHeight * featureWidth
            return pixels * pixels * MemoryLayout<Float>.stride <= fullVolumeByteLimit ? .fullVolume : .onDemand
        }
    }

    public static let levels = 4
    public static let radius = 4
    static let windowSide = 2 * radius + 1
    /// Channels of a lookup: levels x (2r+1)², level-major.
    public static let outputChannels = levels * windowSide * windowSide

    private enum Storage {
        /// Per level: [HW, Hl, Wl] correlation of every query pixel with the pooled grid.
        case full([Tensor])
        /// Queries [HW, C] (scaled by 1/sqrt(C)) and per level the pooled second map [Hl, Wl, C].
        case onDemand(queries: Tensor, keys: [Tensor])
    }

    public let height: Int
    public let width: Int
    private let channels: Int
    private let levelSizes: [(height: Int, width: Int)]
    private let storage: Storage

    /// `fmap1`, `fmap2`: [1, C, H, W] feature maps with H, W >= 16 (torchvision raises below that: the
    /// 4th level would be under 2 px and the lookup's normalisation divides by size - 1).
    public init(fmap1: Tensor, fmap2: Tensor, strategy: Strategy? = nil) {
        precondition(fmap1.shape == fmap2.shape && fmap1.rank == 4 && fmap1.shape[0] == 1,
                     "CorrelationPyramid: feature maps \(fmap1.shape) and \(fmap2.shape) must be equal [1, C, H, W]")
        let minimumSide = 2 << (Self.levels - 1)
        precondition(fmap1.shape[2] >= minimumSide && fmap1.shape[3] >= minimumSide,
                     "CorrelationPyramid: feature maps \(fmap1.shape) are under \(minimumSide) px (images under \(8 * minimumSide) px)")
        let (channels, height, width) = (fmap1.shape[1], fmap1.shape[2], fmap1.shape[3])
        (self.channels, self.height, self.width) = (channels, height, width)
        var sizes = [(height, width)]
        for _ in 1..<Self.levels { sizes.append((sizes.last!.0 / 2, sizes.last!.1 / 2)) }
        levelSizes = sizes
        switch strategy ?? .automatic(featureHeight: height, featureWidth: width) {
        case .fullVolume:
            storage = .full(Self.fullVolume(fmap1, fmap2))
        case .onDemand:
            var pooled = [fmap2]
            for _ in 1..<Self.levels { pooled.append(avgPool2d(pooled.last!, kernel: (2, 2))) }
            let queries = fmap1.reshaped([channels, height * width]).permuted([1, 0])
            let scale = 1 / Float(channels).squareRoot()
            storage = .onDemand(queries: queries * scale,
                                keys: pooled.map { $0.reshaped([channels, -1]).permuted([1, 0]) })
        }
    }

    private static func fullVolume(_ fmap1: Tensor, _ fmap2: Tensor) -> [Tensor] {
        let (channels, height, width) = (fmap1.shape[1], fmap1.shape[2], fmap1.shape[3])
        let pixels = height * width
        let volume = Tensor(uninitializedShape: [pixels, 1, height, width])
        sgemm(m: pixels, n: pixels, k: channels, a: fmap1.data, lda: pixels, transposeA: true,
              b: fmap2.data, ldb: pixels, c: volume.data, ldc: pixels)
        // torchvision divides by torch.sqrt(tensor(C)) after the product.
        let norm = Float(channels).squareRoot()
        Parallel.forEachChunk(volume.count, minimumChunk: 1 << 16) { range in
            for i in range { volume.data[i] /= norm }
        }
        var levels = [volume]
        for _ in 1..<Self.levels { levels.append(avgPool2d(levels.last!, kernel: (2, 2))) }
        return levels
    }

    /// Correlation features around `coordinates` ([1, 2, H, W], x then y, in level-0 pixels):
    /// [1, 324, H, W]. Per level l the centroid is coordinates / 2^l and the 9x9 window is sampled
    /// bilinearly with zero padding (grid_sample, align_corners=True); within a level the channel is
    /// ix * 9 + iy (x-offset major), as torchvision stacks meshgrid(dx, dy, indexing="ij").
    public func lookup(_ coordinates: Tensor) -> Tensor {
        precondition(coordinates.shape == [1, 2, height, width], "lookup: coordinates \(coordinates.shape) for a \(height)x\(width) pyramid")
        let pixels = height * width
        let side = Self.windowSide, window = side * side
        let result = Tensor(uninitializedShape: [1, Self.outputChannels, height, width])
        let (coords, output) = (coordinates.data, result.data)
        Parallel.forEachChunk(pixels, minimumChunk: 16) { range in
            var samples = [Float](repeating: 0, count: window)
            for pixel in range {
                var centreX = coords[pixel], centreY = coords[pixels + pixel]
                for level in 0..<Self.levels {
                    sampleWindow(level: level, query: pixel, centreX: centreX, centreY: centreY, into: &samples)
                    let base = output + level * window * pixels + pixel
                    for k in 0..<window { base[k * pixels] = samples[k] }
                    centreX /= 2
                    centreY /= 2
                }
            }
        }
        return result
    }

    /// Fills `samples[ix * 9 + iy]` with the bilinear sample at (centre + (ix - r, iy - r)) of one level.
    private func sampleWindow(level: Int, query: Int, centreX: Float, centreY: Float, into samples: inout [Float]) {
        let (levelHeight, levelWidth) = levelSizes[level]
        let r = Self.radius, side = Self.windowSide
        // torchvision normalises by (size - 1) and grid_sample's CPU kernel unnormalises with
        // (g + 1) * ((size - 1) / 2); both roundings are kept.
        let spanX = Float(levelWidth - 1), spanY = Float(levelHeight - 1)
        func unnormalised(_ v: Float, span: Float) -> Float { (2 * v / span - 1 + 1) * (span / 2) }
        var xs = [Float](repeating: 0, count: side), ys = [Float](repeating: 0, count: side)
        for d in 0..<side {
            xs[d] = unnormalised(centreX + Float(d - r), span: spanX)
            ys[d] = unnormalised(centreY + Float(d - r), span: spanY)
        }
        let value = correlationReader(level: level, query: query, firstX: Int(Foundation.floor(xs[0])), firstY: Int(Foundation.floor(ys[0])))
        for ix in 0..<side {
            let x = xs[ix], x0 = Int(Foundation.floor(x)), tx = x - Float(x0)
            for iy in 0..<side {
                let y = ys[iy], y0 = Int(Foundation.floor(y)), ty = y - Float(y0)
                samples[ix * side + iy] = value(x0, y0) * ((1 - tx) * (1 - ty)) + value(x0 + 1, y0) * (tx * (1 - ty))
                    + value(x0, y0 + 1) * ((1 - tx) * ty) + value(x0 + 1, y0 + 1) * (tx * ty)
            }
        }
    }

    /// A function giving the level's correlation of `query` with grid point (x, y), zero outside the grid.
    private func correlationReader(level: Int, query: Int, firstX: Int, firstY: Int) -> (Int, Int) -> Float {
        let (levelHeight, levelWidth) = levelSizes[level]
        switch storage {
        case let .full(volumes):
            let plane = volumes[level].data + query * levelHeight * levelWidth
            return { x, y in (x >= 0 && x < levelWidth && y >= 0 && y < levelHeight) ? plane[y * levelWidth + x] : 0 }
        case let .onDemand(queries, keys):
            // The window's samples touch a (2r + 2)² block of grid points from (firstX, firstY); each dot
            // product is computed once. Points outside the block (only if float rounding moved a floor)
            // are computed directly.
            let span = 2 * Self.radius + 2
            let queryVector = queries.data + query * channels
            let keyVectors = keys[level].data
            func dot(_ x: Int, _ y: Int) -> Float {
                guard x >= 0 && x < levelWidth && y >= 0 && y < levelHeight else { return 0 }
                return dotProduct(queryVector, keyVectors + (y * levelWidth + x) * channels, count: channels)
            }
            var block = [Float](repeating: 0, count: span * span)
            for by in 0..<span { for bx in 0..<span { block[by * span + bx] = dot(firstX + bx, firstY + by) } }
            return { x, y in
                let bx = x - firstX, by = y - firstY
                return (bx >= 0 && bx < span && by >= 0 && by < span) ? block[by * span + bx] : dot(x, y)
            }
        }
    }
}

/// Dot product of two contiguous float vectors, eight lanes at a time.
@inline(__always)
private func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= count {
        lanes += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var sum = lanes.sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}
