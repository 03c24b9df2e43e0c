task_name = "fcos"
ckpt_dir = "./tmp_models/%s % task_name
