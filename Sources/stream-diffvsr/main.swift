print("stream-diffvsr")
