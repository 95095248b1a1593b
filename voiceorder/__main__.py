from voiceorder.cli import main

main()
