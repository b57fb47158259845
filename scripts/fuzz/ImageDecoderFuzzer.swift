// libFuzzer entry point for the PNG and JPEG decoders (Sources/Media), built by scripts/fuzz-images.sh
// with the Media sources compiled in and AddressSanitizer on. Each input is decoded under a pixel limit
// (as the server and the CLI do); any crash, out-of-bounds access or leak is a finding.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImageDecoders(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let maxPixels = 1 << 20
    do {
        let image: RGBImage
        if bytes.starts(with: PNGCodec.signature) {
            image = try PNGCodec.decode(bytes, path: "fuzz", maxPixels: maxPixels)
        } else if JPEGCodec.isJPEG(bytes) {
            image = try JPEGCodec.decode(bytes, path: "fuzz", maxPixels: maxPixels)
        } else {
            return 0
        }
        precondition(image.width * image.height <= maxPixels && image.pixels.count == image.width * image.height * 3)
    } catch is MediaError {
        return 0
    } catch {
        preconditionFailure("untyped error \(error)")
    }
    return 0
}
