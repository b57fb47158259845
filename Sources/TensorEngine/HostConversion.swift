import BackendInterface
import CPUBackend
import Dispatch

/// Converts `count` elements of `dtype` from raw little-endian bytes into floats on the host (the
/// checkpoint reader's bulk path): the CPU's vector kernels, in chunks over the cores.
public func convertToFloat(_ source: UnsafeRawPointer, dtype: ElementType, count: Int, into target: UnsafeMutablePointer<Float>) {
    forEachHostChunk(count) { range in
        CPUBackend.widenToFloat(source + range.lowerBound * dtype.byteSize, from: dtype, count: range.count,
                                into: target + range.lowerBound)
    }
}

/// Converts `count` floats into `dtype`'s little-endian bytes (the inverse of `convertToFloat`).
public func convertFromFloat(_ source: UnsafePointer<Float>, count: Int, to dtype: ElementType, into target: UnsafeMutableRawPointer) {
    switch dtype {
    case .float32:
        target.copyMemory(from: source, byteCount: count * 4)
    case .float16:
        forEachHostChunk(count) { range in
            for i in range { target.storeBytes(of: halfBits(from: source[i]).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
        }
    case .bfloat16:
        forEachHostChunk(count) { range in
            for i in range { target.storeBytes(of: bfloat16Bits(from: source[i]).littleEndian, toByteOffset: i * 2, as: UInt16.self) }
        }
    }
}

/// Splits `0..<count` into chunks of at least 64 Ki elements over the cores.
private func forEachHostChunk(_ count: Int, _ body: (Range<Int>) -> Void) {
    let chunkSize = 1 << 16
    let chunks = (count + chunkSize - 1) / chunkSize
    guard chunks > 1 else {
        body(0..<count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        body(chunk * chunkSize..<min(count, (chunk + 1) * chunkSize))
    }
}
