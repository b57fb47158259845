// The only ways host memory meets device memory: values and raw bytes in (uploads), values and bytes
// out (downloads), tensors moved between devices, and 8-bit RGB frames in and out.

import BackendInterface

extension Tensor {
    /// Uploads `scalars` (row-major) as a float32 tensor.
    public init(shape: [Int], scalars: [Float], on device: Device = .cpu) {
        precondition(shape.reduce(1, *) == scalars.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.init(shape: shape, elementType: .float32, on: device) { bytes in
            scalars.withUnsafeBytes { bytes.copyMemory(from: $0) }
        }
    }

    /// Uploads bytes written by `initialize` (little-endian elements of `elementType`, row-major):
    /// how checkpoint readers put weights straight onto a device.
    public init(shape: [Int], elementType: ElementType, on device: Device = .cpu,
                initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        let buffer = try device.backend.makeBuffer(count: shape.reduce(1, *), elementType: elementType, initialize: initialize)
        self.init(shape: shape, storage: TensorStorage(device: device, buffer: buffer))
    }

    /// `shape` elements of `elementType` at `bytes` (little-endian, row-major), which stay valid and
    /// unchanged while `owner` lives: used in place where the device computes on host memory (the CPU
    /// reading a mapped checkpoint), uploaded as a copy elsewhere.
    public init(shape: [Int], elementType: ElementType, on device: Device = .cpu, wrapping bytes: UnsafeRawPointer,
                owner: AnyObject & Sendable) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        let count = shape.reduce(1, *)
        if let buffer = device.backend.makeBuffer(wrapping: bytes, count: count, elementType: elementType, owner: owner) {
            self.init(shape: shape, storage: TensorStorage(device: device, buffer: buffer, isReadOnly: true))
        } else {
            self.init(shape: shape, elementType: elementType, on: device) {
                $0.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: count * elementType.byteSize))
            }
        }
    }

    /// Downloads the values as floats (waits for the device; reports a failure in its pending work).
    public var scalars: [Float] {
        get throws {
            try backend.read(buffer) { bytes in
                switch elementType {
                case .float32:
                    return Array(bytes.bindMemory(to: Float.self).prefix(count))
                case .float16:
                    return (0..<count).map { floatFromHalfBits(bytes.load(fromByteOffset: $0 * 2, as: UInt16.self)) }
                case .bfloat16:
                    return (0..<count).map { floatFromBFloat16Bits(bytes.load(fromByteOffset: $0 * 2, as: UInt16.self)) }
                }
            }
        }
    }

    /// Runs `body` on the raw stored bytes (for writers of checkpoints and state files).
    public func withStoredBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        try backend.read(buffer) { try body(UnsafeRawBufferPointer(rebasing: $0.prefix(count * elementType.byteSize))) }
    }

    /// The same values on `device` (itself when already there).
    public func to(_ device: Device) throws -> Tensor {
        if device == self.device { return self }
        return try withStoredBytes { source in
            Tensor(shape: shape, elementType: elementType, on: device) { $0.copyMemory(from: source) }
        }
    }

    /// The values stored as `elementType` (rounded to nearest even when narrowing, like torch).
    public func converted(to elementType: ElementType) -> Tensor {
        if elementType == self.elementType { return self }
        let result = Tensor(uninitializedShape: shape, elementType: elementType, on: device)
        backend.convert(buffer, into: result.buffer)
        return result
    }
}

extension Tensor {
    /// An 8-bit RGB frame (interleaved rows) as the networks see it: [1, 3, height, width] in [-1, 1],
    /// computed as the reference does in float32 (x / 255, then 2x - 1).
    public init(rgb8 pixels: [UInt8], width: Int, height: Int, on device: Device = .cpu) {
        let plane = width * height
        precondition(pixels.count == plane * 3, "RGB frame \(width)x\(height) needs \(plane * 3) bytes, got \(pixels.count)")
        self.init(shape: [1, 3, height, width], elementType: .float32, on: device) { bytes in
            let values = bytes.bindMemory(to: Float.self)
            pixels.withUnsafeBufferPointer { pixels in
                for index in 0..<plane {
                    for channel in 0..<3 {
                        let unit = Float(pixels[index * 3 + channel]) / 255
                        values[channel * plane + index] = 2 * unit - 1
                    }
                }
            }
        }
    }

    /// The 8-bit RGB frame of a [1, 3, H, W] image in nominal [-1, 1]: `round(clamp(x / 2 + 0.5, 0, 1) * 255)`
    /// with round-half-to-even, in float32 like the reference. Interleaved rows.
    public func rgb8() throws -> [UInt8] {
        precondition(rank == 4 && shape[0] == 1 && shape[1] == 3, "rgb8 needs a [1, 3, H, W] image, got \(shape)")
        let plane = shape[2] * shape[3]
        let image = converted(to: .float32)
        return try image.backend.read(image.buffer) { bytes in
            let values = bytes.bindMemory(to: Float.self)
            var pixels = [UInt8](repeating: 0, count: plane * 3)
            for index in 0..<plane {
                for channel in 0..<3 {
                    let unit = min(max(values[channel * plane + index] / 2 + 0.5, 0), 1)
                    pixels[index * 3 + channel] = UInt8((unit * 255).rounded(.toNearestOrEven))
                }
            }
            return pixels
        }
    }
}
