def work(size):
    print(size)
